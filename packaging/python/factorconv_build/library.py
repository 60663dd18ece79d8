"""The native library a wheel carries: built by the Makefile's `lib` target (SwiftPM, release,
the Swift runtime linked statically), the same build as `make lib` and `make install`, so a
checkout where it already ran is reused as it is; then copied without its symbol tables."""

import os
import shutil
import subprocess
import sys


def _make(root, target, capture=False):
    """Runs `make TARGET` in ``root`` (``$MAKE`` if set); returns its output if ``capture``, else
    sends it to stderr, where pip shows it."""
    command = [os.environ.get("MAKE", "make"), "--no-print-directory", *(["-s"] if capture else []), "-C", root, target]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE if capture else sys.stderr, text=True)
    return result.stdout


def build(root):
    """Builds the library with `make lib` and returns its path (the Makefile's `lib-path`)."""
    _make(root, "lib")
    return os.path.join(root, _make(root, "lib-path", capture=True).strip())


def stripped_copy(source, target):
    """Writes ``source`` to ``target`` without symbol tables or debug information (what a shared
    library does not need to load: its dynamic symbols stay). binutils' strip, or the Swift
    toolchain's llvm-objcopy on a machine without binutils."""
    strip = shutil.which("strip")
    if strip:
        subprocess.run([strip, "--strip-unneeded", "-o", target, source], check=True)
        return
    objcopy = shutil.which("llvm-objcopy")
    if not objcopy:
        raise RuntimeError("neither strip (binutils) nor llvm-objcopy (the Swift toolchain) is on PATH")
    subprocess.run([objcopy, "--strip-unneeded", source, target], check=True)
