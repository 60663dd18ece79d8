"""The wheel's platform tag, manylinux_X_Y_ARCH (PEP 600): X.Y is the newest glibc symbol
version the library needs, read from its ELF version-needs table (.gnu.version_r), so the wheel
claims exactly the glibc it requires and pip installs it on any distribution with that glibc or
a newer one. The other conditions of a manylinux wheel (only system libraries from the
manylinux policy, no newer libstdc++ symbols than that glibc's policy allows) are what
`auditwheel show` checks; the tests run it on the wheel."""

import platform
import re
import struct

SHT_GNU_VERNEED = 0x6FFFFFFE


def _sections(data):
    """(type, offset, size, link) of every section of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian 64-bit ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    for i in range(shnum):
        base = shoff + i * shentsize
        _, kind, _, _, offset, size, link = struct.unpack_from("<IIQQQQI", data, base)
        yield kind, offset, size, link


def _string(data, offset):
    return data[offset:data.index(b"\0", offset)].decode("ascii")


def needed_versions(path):
    """The version names (GLIBC_2.34, GLIBCXX_3.4.29, ...) the library at ``path`` needs."""
    with open(path, "rb") as file:
        data = file.read()
    sections = list(_sections(data))
    names = set()
    for kind, offset, _, link in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][1]
        entry = offset
        while True:
            _, count, _, aux, following = struct.unpack_from("<HHIII", data, entry)
            item = entry + aux
            for _ in range(count):
                _, _, _, name, next_aux = struct.unpack_from("<IHHII", data, item)
                names.add(_string(data, strings + name))
                item += next_aux
            if not following:
                break
            entry += following
    return names


def glibc_needed(path):
    """(major, minor) of the newest GLIBC_ version the library needs."""
    versions = [tuple(int(p) for p in m.groups())
                for m in (re.fullmatch(r"GLIBC_(\d+)\.(\d+)", n) for n in needed_versions(path)) if m]
    if not versions:
        raise ValueError("%s needs no versioned glibc symbol" % path)
    return max(versions)


def wheel_platform(path):
    """The manylinux platform tag for the library at ``path`` on this machine's architecture."""
    major, minor = glibc_needed(path)
    return "manylinux_%d_%d_%s" % (major, minor, platform.machine())
