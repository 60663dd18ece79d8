"""Starting children that must see Ctrl-C.

A shell starts background commands with SIGINT ignored (bash does so for `cmd &` without job
control, e.g. CI launched as `bash -c 'make test' &`), and an ignored signal stays ignored across
fork and exec: Python then installs no KeyboardInterrupt handler in the child, and a test that
sends it SIGINT would test nothing. Tests of Ctrl-C start their children through this, which
gives the child the default disposition, as a terminal's foreground process has.
"""

import signal


def default_sigint():
    """``preexec_fn`` for subprocess: SIGINT back to its default action in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
