"""The child process of test_interrupt.py: starts one long FactorConv call and lets Ctrl-C
stop it. Usage: ``python interrupt_child.py CASE``.

It prints "started" on stdout just before the long call (the callable-progress case prints it
from the first progress call instead, when the decomposition is certainly running), then runs
a call that would take far longer than the test waits. KeyboardInterrupt must end it; the forward
cases then check that the layer (or the functional conv) still gives its earlier results, print
"usable", and re-raise, so that the process ends the way an uncaught Ctrl-C ends it.
"""

import sys

import numpy as np

import factorconv as fc

# One worker thread: the long calls stay long on any machine, and the latency measured is that
# of the check points rather than of the thread count.
fc.set_num_threads(1)

# Decompositions that never converge: tol 0 and an iteration bound far out of reach.
ENDLESS = {"n_iter_max": 10**6, "tol": 0.0}


def started():
    sys.stdout.write("started\n")
    sys.stdout.flush()


def kernel(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def decomposition(case):
    rng = np.random.default_rng(0)
    w = kernel(rng, (96, 96, 3, 3))
    kwargs = dict(factorization="cp", rank="same", decomposition_kwargs=ENDLESS)
    if case == "from_conv":
        started()
        fc.FactorizedConv.from_conv(w, **kwargs)
    elif case == "from_conv_progress_bar":
        started()
        fc.FactorizedConv.from_conv(w, progress=True, **kwargs)
    elif case == "from_conv_progress_callable":
        def progress(iteration, error):
            if iteration == 1:
                started()
            return True
        fc.FactorizedConv.from_conv(w, progress=progress, **kwargs)
    elif case == "from_conv_list":
        started()
        fc.FactorizedConv.from_conv_list([w, kernel(rng, w.shape)], **kwargs)
    elif case == "from_conv_tucker":
        started()
        fc.FactorizedConv.from_conv(w, factorization="tucker", rank=0.5,
                                    decomposition_kwargs=ENDLESS)
    else:
        raise SystemExit("unknown case %r" % case)


def forward(case):
    """A dense-equivalent 3-D layer with a large kernel and few channels: much arithmetic on
    little memory. The reference result of a small input is taken first, and compared after the
    interrupted call."""
    rng = np.random.default_rng(1)
    small = kernel(rng, (1, 32, 6, 6, 6))
    x = kernel(rng, (1, 32, 64, 64, 64))
    if case == "forward":
        conv = fc.FactorizedConv(32, 32, 15, order=3, padding=7, factorization="dense",
                                 implementation="reconstructed", seed=3)
        run = conv
    elif case == "dense_conv":
        w = kernel(rng, (32, 32, 15, 15, 15))
        def run(inputs):
            return fc.conv(inputs, w, padding=7)
    else:
        raise SystemExit("unknown case %r" % case)
    expected = run(small)
    started()
    try:
        run(x)
    except KeyboardInterrupt:
        again = run(small)
        if not np.array_equal(again, expected):
            raise SystemExit("the result after the interrupted call differs")
        sys.stdout.write("usable\n")
        sys.stdout.flush()
        raise
    raise SystemExit("the long call returned")


if __name__ == "__main__":
    name = sys.argv[1]
    if name in ("forward", "dense_conv"):
        forward(name)
    else:
        decomposition(name)
    raise SystemExit("the long call returned")
