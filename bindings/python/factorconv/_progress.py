"""Progress reporting for long decompositions (``from_conv(..., progress=...)``): a text bar on
stderr, a bar over the layers of ``compress_model``, and the wrapper that turns a Python callable
into an ``fconv_progress_fn``."""

import sys
import time

from . import _lib
from ._errors import InvalidArgumentError


def _clock(seconds):
    """``seconds`` as m:ss (or h:mm:ss)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return "%d:%02d:%02d" % (hours, minutes, secs) if hours else "%d:%02d" % (minutes, secs)


class TextProgressBar:
    """A one-line progress bar on stderr: iteration / the library's iteration bound, the
    relative error, the time elapsed and, at the current pace, an upper estimate of the time
    left (the bound is an upper bound: a decomposition may converge and stop earlier)."""

    def __init__(self, stream=None, width=30, clock=time.monotonic):
        self.total = 1
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.drawn = False
        self.clock = clock
        self.start = clock()

    def __call__(self, iteration, error, total=None):
        """Redraws the bar at ``iteration`` (of ``total``, the library's bound)."""
        if total is not None:
            self.total = max(int(total), 1)
        filled = min(self.width, int(self.width * iteration / self.total))
        elapsed = self.clock() - self.start
        left = ("  <= %s left" % _clock(elapsed / iteration * max(self.total - iteration, 0))
                if iteration > 0 else "")
        self.stream.write("\rdecomposing [%s%s] %d/%d  rel. error %.3e  %s%s"
                          % ("#" * filled, "-" * (self.width - filled), iteration, self.total,
                             error, _clock(elapsed), left))
        self.stream.flush()
        self.drawn = True
        return True

    def close(self):
        """Ends the bar's line (when something was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class LayerProgressBar:
    """A one-line progress bar on stderr over the layers of a model (``compress_model``): layers
    done / total, the last one finished, the time elapsed and, at the current pace, an estimate
    of the time left."""

    def __init__(self, total, stream=None, width=30, clock=time.monotonic):
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.drawn = False
        self.clock = clock
        self.start = clock()

    def __call__(self, done, name=""):
        """Redraws the bar with ``done`` layers finished, ``name`` the last one."""
        filled = min(self.width, int(self.width * done / self.total))
        elapsed = self.clock() - self.start
        left = ("  ~%s left" % _clock(elapsed / done * max(self.total - done, 0))
                if done > 0 else "")
        self.stream.write("\r\033[Kcompressing [%s%s] %d/%d %s  %s%s"
                          % ("#" * filled, "-" * (self.width - filled), done, self.total,
                             name[:40], _clock(elapsed), left))
        self.stream.flush()
        self.drawn = True

    def close(self):
        """Ends the bar's line (when something was drawn)."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class Progress:
    """Wraps a Python progress function as an fconv_progress_fn. Exceptions raised by the
    function never cross into C: the first one is kept, the decomposition is cancelled, and
    ``reraise`` raises it after the C call returns."""

    def __init__(self, function):
        self.function = function
        self.error = None
        self.c_function = _lib.PROGRESS_FN(self._call)   # referenced by self while C uses it

    def _call(self, iteration, total, error, _user_data):
        try:
            if isinstance(self.function, TextProgressBar):
                keep_going = self.function(int(iteration), float(error), int(total))
            else:
                keep_going = self.function(int(iteration), float(error))
            return 0 if (keep_going is not None and not keep_going) else 1
        except BaseException as exc:   # noqa: B902 - must not propagate through C
            if self.error is None:
                self.error = exc
            return 0

    def reraise(self):
        """Raises the callback's first exception, if it raised one."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def make_progress(progress):
    """(Progress or None, text bar or None) for ``progress`` = None | bool | callable."""
    if progress is None or progress is False:
        return None, None
    if progress is True:
        bar = TextProgressBar()
        return Progress(bar), bar
    if callable(progress):
        return Progress(progress), None
    raise InvalidArgumentError("progress must be None, True/False or a callable "
                               "progress(iteration, error) -> bool, got %r" % (progress,))
