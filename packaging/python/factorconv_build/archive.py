"""Writes wheels (PEP 427: a zip with a .dist-info directory and a RECORD of every file's
sha256 and size) and sdists (a .tar.gz of the source files under NAME-VERSION/ with PKG-INFO).
Entries carry a fixed timestamp ($SOURCE_DATE_EPOCH if set) so the same inputs give the same
archive bytes."""

import base64
import gzip
import hashlib
import io
import os
import tarfile
import time
import zipfile


def _epoch():
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)  # zip starts at 1980


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def write_wheel(path, entries, dist_info):
    """Writes the wheel ``path`` from ``entries``, a list of (archive path, bytes, executable),
    plus ``dist_info``/RECORD listing them all."""
    stamp = time.gmtime(_epoch())[:6]
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data, executable in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
            records.append(_record_line(name, data))
        record = dist_info + "/RECORD"
        records.append(record + ",,")
        info = zipfile.ZipInfo(record, date_time=stamp)
        info.external_attr = 0o100644 << 16
        wheel.writestr(info, "\n".join(records) + "\n", compress_type=zipfile.ZIP_DEFLATED)


def write_sdist(path, root, files, pkg_info, top):
    """Writes the sdist ``path``: ``files`` (paths relative to ``root``) and PKG-INFO, under the
    directory ``top``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data, mode):
            info = tarfile.TarInfo("%s/%s" % (top, name))
            info.size, info.mode, info.mtime = len(data), mode, _epoch()
            tar.addfile(info, io.BytesIO(data))
        add("PKG-INFO", pkg_info.encode("utf-8"), 0o644)
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as file:
                add(name, file.read(), 0o755 if os.access(full, os.X_OK) else 0o644)
    with open(path, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=_epoch()) as compressed:
        compressed.write(buffer.getvalue())
