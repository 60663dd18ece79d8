"""Starting child Python processes: with this package and library, and able to see Ctrl-C.

A shell starts background commands with SIGINT ignored (bash does so for `cmd &` without job
control, e.g. CI launched as `bash -c 'make test' &`), and an ignored signal stays ignored across
fork and exec: Python then installs no KeyboardInterrupt handler in the child, and a test that
sends it SIGINT would test nothing. Tests of Ctrl-C start their children through this, which
gives the child the default disposition, as a terminal's foreground process has.
"""

import os
import signal
import sys

import factorconv as fc
from factorconv import _lib


def default_sigint():
    """``preexec_fn`` for subprocess: SIGINT back to its default action in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child_environment():
    """The environment for a child Python process that imports this same package and library
    (PYTHONPATH, FACTORCONV_LIB), with FACTORCONV_PYTHON naming this interpreter for tools that
    start Python themselves."""
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.abspath(fc.__file__)))
    env["PYTHONPATH"] = package + os.pathsep + env.get("PYTHONPATH", "")
    env["FACTORCONV_LIB"] = _lib.lib._name
    env["FACTORCONV_PYTHON"] = sys.executable
    return env
