"""Locates and loads libfactorconv.so and declares the C signatures of include/factorconv.h.

Search order (the first hit wins):
  1. the file named by the environment variable ``FACTORCONV_LIB`` (if set, it must load:
     an explicit choice never falls back silently to another copy);
  2. a copy bundled next to this module (``factorconv/libfactorconv.so``, put there by a wheel);
  3. ``.build/release/libfactorconv.so`` in the nearest ancestor directory of the package that
     has one (running from a source checkout).
The library must report the ABI version this package was written for, or the import fails.
"""

import _thread
import ctypes
import os
import threading

from ._errors import make_error, OK

#: The FCONV_ABI_VERSION of the header these bindings were written against.
EXPECTED_ABI_VERSION = 1

LIB_NAME = "libfactorconv.so"
ENV_VAR = "FACTORCONV_LIB"

_c_int64_p = ctypes.POINTER(ctypes.c_int64)
_c_float_p = ctypes.POINTER(ctypes.c_float)
_status = ctypes.c_int32


class fconv_options(ctypes.Structure):
    """Opaque ``fconv_options`` (only pointers to it are used)."""


class fconv_conv(ctypes.Structure):
    """Opaque ``fconv_conv`` (only pointers to it are used)."""


class fconv_bundle(ctypes.Structure):
    """Opaque ``fconv_bundle`` (only pointers to it are used)."""


_options_p = POINTER_OPTIONS = ctypes.POINTER(fconv_options)
_conv_p = POINTER_CONV = ctypes.POINTER(fconv_conv)
_bundle_p = POINTER_BUNDLE = ctypes.POINTER(fconv_bundle)

#: ``fconv_progress_fn``: int32 (*)(int64 iteration, int64 max_iterations, double relative_error,
#: void *user_data).
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64, ctypes.c_double,
                               ctypes.c_void_p)

# name -> (restype, argtypes); one entry per function of include/factorconv.h.
SIGNATURES = {
    "fconv_version_string": (ctypes.c_char_p, []),
    "fconv_abi_version": (ctypes.c_int32, []),
    "fconv_status_string": (ctypes.c_char_p, [_status]),
    "fconv_last_error_message": (ctypes.c_char_p, []),
    "fconv_set_num_threads": (_status, [ctypes.c_int32]),
    "fconv_get_num_threads": (ctypes.c_int32, []),
    "fconv_interrupt": (None, []),
    "fconv_set_memory_limit": (_status, [ctypes.c_uint64]),
    "fconv_get_memory_limit": (ctypes.c_uint64, []),
    "fconv_release_memory": (None, []),
    "fconv_set_output_check": (_status, [ctypes.c_int32]),
    "fconv_get_output_check": (ctypes.c_int32, []),
    "fconv_dense_conv_output_shape": (_status, [
        _c_int64_p, ctypes.c_size_t,            # input_shape, input_ndim
        _c_int64_p, ctypes.c_size_t,            # weight_shape, weight_ndim
        _c_int64_p, _c_int64_p, _c_int64_p,     # stride, padding, dilation
        ctypes.c_size_t,                        # n_spatial
        _c_int64_p, ctypes.c_size_t,            # out_shape, out_shape_capacity
    ]),
    "fconv_dense_conv_forward": (_status, [
        _c_float_p, _c_int64_p, ctypes.c_size_t,  # input, input_shape, input_ndim
        _c_float_p, _c_int64_p, ctypes.c_size_t,  # weight, weight_shape, weight_ndim
        _c_float_p,                               # bias
        _c_int64_p, _c_int64_p, _c_int64_p,       # stride, padding, dilation
        ctypes.c_size_t,                          # n_spatial
        _c_float_p, ctypes.c_size_t,              # output, output_capacity
    ]),
    # Options handle ------------------------------------------------------------------------
    "fconv_options_create": (_status, [ctypes.POINTER(_options_p)]),
    "fconv_options_free": (None, [_options_p]),
    "fconv_options_set_int": (_status, [_options_p, ctypes.c_char_p, ctypes.c_int64]),
    "fconv_options_set_ints": (_status, [_options_p, ctypes.c_char_p, _c_int64_p, ctypes.c_size_t]),
    "fconv_options_set_float": (_status, [_options_p, ctypes.c_char_p, ctypes.c_double]),
    "fconv_options_set_string": (_status, [_options_p, ctypes.c_char_p, ctypes.c_char_p]),
    "fconv_options_set_progress": (_status, [_options_p, PROGRESS_FN, ctypes.c_void_p]),
    # Layers --------------------------------------------------------------------------------
    "fconv_conv_create": (_status, [
        ctypes.c_int64, ctypes.c_int64, _c_int64_p, ctypes.c_size_t,  # in, out, kernel_size, order
        _options_p, ctypes.POINTER(_conv_p),
    ]),
    "fconv_conv_from_conv": (_status, [
        _c_float_p, _c_int64_p, ctypes.c_size_t,  # weight, weight_shape, weight_ndim
        _c_float_p, _options_p, ctypes.POINTER(_conv_p),  # bias, options, out
    ]),
    "fconv_conv_from_conv_list": (_status, [
        ctypes.c_size_t, ctypes.POINTER(_c_float_p),  # n_convs, weights
        _c_int64_p, ctypes.c_size_t,                  # weight_shape, weight_ndim
        ctypes.POINTER(_c_float_p),                   # biases
        _c_int64_p, _c_int64_p, _c_int64_p,           # strides, paddings, dilations
        _options_p, ctypes.POINTER(_conv_p),
    ]),
    "fconv_conv_free": (None, [_conv_p]),
    "fconv_conv_set": (_status, [
        _conv_p, _c_int64_p, ctypes.c_size_t,      # conv, layer, layer_ndim
        _c_int64_p, _c_int64_p, _c_int64_p,        # stride, padding, dilation
        ctypes.c_size_t, _c_float_p, ctypes.c_size_t,  # n_spatial, bias, bias_count
    ]),
    "fconv_conv_get_conv": (_status, [_conv_p, _c_int64_p, ctypes.c_size_t, ctypes.POINTER(_conv_p)]),
    "fconv_conv_transduct": (_status, [_conv_p] + [ctypes.c_int64] * 5),
    "fconv_conv_output_shape": (_status, [
        _conv_p, _c_int64_p, ctypes.c_size_t,      # conv, input_shape, input_ndim
        _c_int64_p, ctypes.c_size_t,               # layer, layer_ndim
        _c_int64_p, ctypes.c_size_t,               # out_shape, out_shape_capacity
    ]),
    "fconv_conv_forward": (_status, [
        _conv_p, _c_float_p, _c_int64_p, ctypes.c_size_t,  # conv, input, input_shape, input_ndim
        _c_int64_p, ctypes.c_size_t,                       # layer, layer_ndim
        _c_float_p, ctypes.c_size_t,                       # output, output_capacity
    ]),
    "fconv_conv_forward_shaped": (_status, [
        _conv_p, _c_float_p, _c_int64_p, ctypes.c_size_t,  # conv, input, input_shape, input_ndim
        _c_int64_p, ctypes.c_size_t,                       # layer, layer_ndim
        _c_float_p, _c_int64_p, ctypes.c_size_t,           # output, output_shape, output_ndim
    ]),
    "fconv_conv_set_implementation": (_status, [_conv_p, ctypes.c_int32]),
    "fconv_conv_chosen_implementation": (_status, [
        _conv_p, _c_int64_p, ctypes.c_size_t, _c_int64_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_int32),
    ]),
    "fconv_conv_parameter_count": (_status, [_conv_p, ctypes.POINTER(ctypes.c_size_t)]),
    "fconv_conv_parameter_name": (_status, [
        _conv_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
    ]),
    "fconv_conv_parameter_shape": (_status, [
        _conv_p, ctypes.c_char_p, _c_int64_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
    ]),
    "fconv_conv_get_parameter": (_status, [_conv_p, ctypes.c_char_p, _c_float_p, ctypes.c_size_t]),
    "fconv_conv_set_parameters": (_status, [
        _conv_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),  # conv, count, names
        ctypes.POINTER(_c_float_p), ctypes.POINTER(_c_int64_p),     # values, shapes
        ctypes.POINTER(ctypes.c_size_t), ctypes.c_int32,            # ndims, strict
    ]),
    "fconv_conv_reconstruct_kernel": (_status, [
        _conv_p, _c_int64_p, ctypes.c_size_t, _c_float_p, ctypes.c_size_t,
    ]),
    "fconv_conv_kernel_shape": (_status, [
        _conv_p, _c_int64_p, ctypes.c_size_t, _c_int64_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_size_t),
    ]),
    "fconv_conv_reset_parameters": (_status, [_conv_p, ctypes.c_double, ctypes.c_uint64]),
    "fconv_conv_get_ints": (_status, [
        _conv_p, ctypes.c_int32, _c_int64_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
    ]),
    "fconv_conv_repr": (_status, [_conv_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    # Files ---------------------------------------------------------------------------------
    "fconv_conv_save": (_status, [_conv_p, ctypes.c_char_p]),
    "fconv_conv_load": (_status, [ctypes.c_char_p, ctypes.POINTER(_conv_p)]),
    "fconv_conv_save_to_buffer": (_status, [
        _conv_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),  # conv, buffer, capacity, size
    ]),
    "fconv_conv_load_from_buffer": (_status, [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_conv_p),                    # data, size, out
    ]),
    # Model bundles -------------------------------------------------------------------------
    "fconv_bundle_open": (_status, [ctypes.c_char_p, ctypes.POINTER(_bundle_p)]),
    "fconv_bundle_open_buffer": (_status, [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_bundle_p)]),
    "fconv_bundle_free": (None, [_bundle_p]),
    "fconv_bundle_count": (_status, [_bundle_p, ctypes.POINTER(ctypes.c_size_t)]),
    "fconv_bundle_name": (_status, [_bundle_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)]),
    "fconv_bundle_get_layer": (_status, [_bundle_p, ctypes.c_char_p, ctypes.POINTER(_conv_p)]),
    "fconv_bundle_save": (_status, [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_conv_p),  # path, n, names, convs
    ]),
    "fconv_bundle_save_to_buffer": (_status, [
        ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_conv_p),  # n, names, convs
        ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),         # buffer, capacity, size
    ]),
}


def candidate_paths(package_dir=None, environ=None):
    """The library paths tried, in order, as ``(description, path)`` pairs."""
    environ = os.environ if environ is None else environ
    package_dir = os.path.dirname(os.path.abspath(__file__)) if package_dir is None else package_dir
    if environ.get(ENV_VAR):
        # An explicit choice is the only candidate: loading another copy would hide the mistake.
        return [("$%s" % ENV_VAR, environ[ENV_VAR])]
    found = [("bundled copy", os.path.join(package_dir, LIB_NAME))]
    directory = os.path.dirname(package_dir)
    while True:
        found.append(("source build", os.path.join(directory, ".build", "release", LIB_NAME)))
        parent = os.path.dirname(directory)
        if parent == directory:
            return found
        directory = parent


def _declare(lib):
    """Sets restype/argtypes for every header function; a missing symbol is an ImportError."""
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise ImportError("%s does not export %s: the library is older than these "
                              "bindings; rebuild it (make lib)" % (lib._name, name)) from None
        function.restype = restype
        function.argtypes = argtypes


def check_abi(lib, expected=EXPECTED_ABI_VERSION):
    """Raises ImportError unless the loaded library reports the ``expected`` ABI version."""
    found = lib.fconv_abi_version()
    if found != expected:
        raise ImportError("%s has ABI version %d but the factorconv package expects %d; "
                          "install matching versions of the package and the library"
                          % (lib._name, found, expected))


def load(package_dir=None, environ=None):
    """Loads, declares and ABI-checks the library; ImportError lists every place tried."""
    tried = []
    for description, path in candidate_paths(package_dir, environ):
        if not os.path.isfile(path):
            tried.append("%s %s: not found" % (description, path))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as error:
            tried.append("%s %s: %s" % (description, path, error))
            continue
        _declare(lib)
        check_abi(lib)
        return lib
    raise ImportError("cannot load %s; looked in:\n  %s\nBuild it with `make lib` or set %s "
                      "to its path." % (LIB_NAME, "\n  ".join(tried), ENV_VAR))


lib = load()


def check(status, message=None):
    """Raises the FactorConvError subclass for a non-OK ``status`` with the library's message:
    ``message`` (bytes) when given, else this thread's last error message."""
    if status != OK:
        if message is None:
            message = lib.fconv_last_error_message()
        raise make_error(status, (message or b"").decode("utf-8", "replace"))


# How long the main thread sleeps between looks at a call running on a helper thread. Python runs
# signal handlers on the main thread only, and only between bytecodes: a SIGINT that the kernel
# delivers to another thread would not wake a waiting main thread, so it must wake up by itself.
_POLL_SECONDS = 0.05

_main_thread = threading.main_thread()


def _run_call(box, done, function, args):
    """Helper-thread body: ``function(*args)`` -> box = [status, message or None] (the message
    is thread-local, so it is read here), or [exception]; then releases ``done``."""
    try:
        status = function(*args)
        box.extend((status, None if status == OK else lib.fconv_last_error_message()))
    except BaseException as exc:   # noqa: B902 - handed to the waiting thread
        box.append(exc)
    finally:
        done.release()


# Forwards and convolutions of at least this many dense-equivalent multiply-adds go through
# call_interruptibly on the main thread (so that Ctrl-C stops them); smaller ones are called
# directly. Starting the helper thread is then a small fraction of the call, while no call below
# it runs long enough for a delayed KeyboardInterrupt to matter.
INTERRUPTIBLE_MACS = 4 * 10**9


def call_interruptibly(function, *args, discard=None):
    """Calls the C function ``function(*args)``, which returns a status, so that Ctrl-C stops
    it; returns ``(status, message)``, message being the library's bytes for a non-OK status.

    Off the main thread this is a plain call: Python raises KeyboardInterrupt in the main thread
    only. On the main thread, the call runs on a helper thread while this one waits in short
    sleeps, during which Python runs signal handlers. If one raises (KeyboardInterrupt for
    SIGINT, or whatever a custom handler raises), fconv_interrupt() stops the call at its next
    check point; this thread still waits for the call to return (its buffers and handles stay
    in use until then), calls ``discard()`` if the call succeeded all the same (to free what it
    created), and re-raises the exception. It interrupts again at every wake-up until then: an
    interrupt reaches only calls already under way, and the helper thread may not have entered
    the library yet when the first one comes.
    """
    if threading.current_thread() is not _main_thread:
        status = function(*args)
        return status, (None if status == OK else lib.fconv_last_error_message())
    box = []
    done = _thread.allocate_lock()
    done.acquire()
    _thread.start_new_thread(_run_call, (box, done, function, args))
    raised = None
    try:
        while not box:
            try:
                if raised is not None:
                    lib.fconv_interrupt()
                done.acquire(True, _POLL_SECONDS)
            except BaseException as exc:   # noqa: B902 - re-raised once the call has returned
                if raised is None:
                    raised = exc
    finally:
        # Reached with the call still running only when a second exception fell outside the
        # handler above: stop and wait for the call all the same.
        while not box:
            lib.fconv_interrupt()
            done.acquire(True, _POLL_SECONDS)
    if raised is not None:
        if box[0] == OK and discard is not None:
            discard()
        raise raised
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0], box[1]


def float_pointer(array):
    """A ``float *`` pointer object to ``array``'s data (a C-contiguous float32 ndarray): what an
    array of pointers holds."""
    return array.ctypes.data_as(_c_float_p)


def float_argument(array):
    """``array``'s data (a C-contiguous float32 ndarray) as a ``float *`` call argument: ``byref``
    of a float that views the buffer, several times cheaper to build than a pointer object (a
    forward call passes two). Read-only and empty arrays, which ``from_buffer`` refuses, take a
    pointer."""
    try:
        return ctypes.byref(ctypes.c_float.from_buffer(array))
    except (TypeError, ValueError):
        return float_pointer(array)
