"""Versions, the ABI check, the loader's search, and the declared signatures vs the header."""

import ctypes
import os
import re
import subprocess
import sys

import pytest

import factorconv as fc
from factorconv import _constants, _errors, _lib

HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "include", "factorconv.h")
PACKAGE_DIR = os.path.dirname(fc.__file__)


@pytest.fixture(scope="module")
def header():
    if not os.path.isfile(HEADER):
        pytest.skip("include/factorconv.h not found (tests run outside the source tree)")
    with open(HEADER) as f:
        return f.read()


def define(header, name):
    match = re.search(r"#define\s+%s\s+(\S+)" % name, header)
    assert match, name
    return match.group(1).strip('"')


def test_versions_agree(header):
    assert fc.abi_version() == fc.ABI_VERSION == int(define(header, "FCONV_ABI_VERSION"))
    assert fc.library_version() == fc.__version__ == define(header, "FCONV_VERSION_STRING")


def test_status_codes_match_header(header):
    pinned = dict(re.findall(r"#define\s+FCONV_((?:OK|ERR_\w+))\s+(\d+)", header))
    assert len(pinned) == 12
    for name, value in pinned.items():
        assert getattr(_errors, name) == int(value), name
        assert _errors.code_name(int(value)) == "FCONV_" + name
        assert _lib.lib.fconv_status_string(int(value)).decode() == "FCONV_" + name


def test_enumerations_match_header(header):
    for prefix, table in (("FACTORIZATION", _constants.FACTORIZATIONS),
                          ("IMPL", _constants.IMPLEMENTATIONS), ("INFO", _constants.INFO)):
        pinned = {name.lower(): int(value) for name, value in
                  re.findall(r"#define\s+FCONV_%s_(\w+)\s+(\d+)" % prefix, header)}
        assert pinned == table, prefix


def test_option_keys_match_header(header):
    comment = header[header.index("An options handle"):header.index("typedef struct fconv_options")]
    documented = set()
    for keys in re.findall(r'^ \*   ((?:"\w+",? ?)+)', comment, re.MULTILINE):
        documented.update(re.findall(r'"(\w+)"', keys))
    assert documented == set(_constants.OPTION_KEYS)


# C types of the header -> the ctypes type the binding must declare for them.
C_TYPES = {
    "void": None, "const char *": ctypes.c_char_p, "int32_t": ctypes.c_int32,
    "fconv_status": ctypes.c_int32, "size_t": ctypes.c_size_t,
    "const int64_t *": ctypes.POINTER(ctypes.c_int64), "int64_t *": ctypes.POINTER(ctypes.c_int64),
    "const float *": ctypes.POINTER(ctypes.c_float), "float *": ctypes.POINTER(ctypes.c_float),
    "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64, "double": ctypes.c_double,
    "char *": ctypes.c_char_p, "void *": ctypes.c_void_p, "const void *": ctypes.c_void_p,
    "fconv_implementation": ctypes.c_int32, "fconv_info": ctypes.c_int32,
    "fconv_implementation *": ctypes.POINTER(ctypes.c_int32), "size_t *": ctypes.POINTER(ctypes.c_size_t),
    "fconv_options *": _lib.POINTER_OPTIONS, "const fconv_options *": _lib.POINTER_OPTIONS,
    "fconv_options * *": ctypes.POINTER(_lib.POINTER_OPTIONS),
    "fconv_conv *": _lib.POINTER_CONV, "const fconv_conv *": _lib.POINTER_CONV,
    "fconv_conv * *": ctypes.POINTER(_lib.POINTER_CONV),
    "fconv_progress_fn": _lib.PROGRESS_FN,
    "const float *const *": ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),
    "const int64_t *const *": ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
    "const char *const *": ctypes.POINTER(ctypes.c_char_p),
    "const size_t *": ctypes.POINTER(ctypes.c_size_t),
    "fconv_bundle *": _lib.POINTER_BUNDLE, "const fconv_bundle *": _lib.POINTER_BUNDLE,
    "fconv_bundle * *": ctypes.POINTER(_lib.POINTER_BUNDLE),
    "const char * *": ctypes.POINTER(ctypes.c_char_p),
    "const fconv_conv *const *": ctypes.POINTER(_lib.POINTER_CONV),
}


def declarations(header):
    """{name: (return type, [parameter types])} parsed from the header's prototypes."""
    found = {}
    for ret, name, params in re.findall(r"^([A-Za-z_][\w \*]*?)\s*\b(fconv_\w+)\(([^)]*)\);",
                                        header, re.MULTILINE):
        # Each parameter is "<type> <name>": drop the trailing identifier.
        types = [] if params.strip() == "void" else [re.sub(r"\w+$", "", p.strip())
                                                     for p in params.split(",")]
        found[name] = (ret, types)
    return found


def normalize(c_type):
    return re.sub(r"\s*\*\s*", " *", c_type).strip()


def test_every_header_function_is_declared_with_its_types(header):
    parsed = declarations(header)
    assert set(parsed) == set(_lib.SIGNATURES) and len(parsed) >= 8
    for name, (ret, params) in parsed.items():
        restype, argtypes = _lib.SIGNATURES[name]
        assert restype is C_TYPES[normalize(ret)], name
        assert [C_TYPES[normalize(p)] for p in params] == argtypes, name
        function = getattr(_lib.lib, name)
        assert (function.restype, function.argtypes) == (restype, argtypes), name


def test_abi_mismatch_is_refused():
    _lib.check_abi(_lib.lib)   # the loaded library passes
    with pytest.raises(ImportError, match="ABI version %d .* expects %d"
                       % (fc.abi_version(), fc.abi_version() + 1)):
        _lib.check_abi(_lib.lib, expected=fc.abi_version() + 1)


def test_search_order():
    paths = _lib.candidate_paths(PACKAGE_DIR, environ={})
    assert paths[0] == ("bundled copy", os.path.join(PACKAGE_DIR, "libfactorconv.so"))
    assert paths[1][1] == os.path.join(os.path.dirname(PACKAGE_DIR), ".build", "release",
                                       "libfactorconv.so")
    assert paths[-1][1] == os.path.join(os.sep, ".build", "release", "libfactorconv.so")
    assert _lib.candidate_paths(PACKAGE_DIR, environ={"FACTORCONV_LIB": "/x.so"}) == \
        [("$FACTORCONV_LIB", "/x.so")]


def test_source_build_is_found_without_env(tmp_path):
    fake_repo = tmp_path / "repo"
    (fake_repo / ".build" / "release").mkdir(parents=True)
    os.symlink(_lib.lib._name, str(fake_repo / ".build" / "release" / "libfactorconv.so"))
    package = fake_repo / "bindings" / "python" / "factorconv"
    package.mkdir(parents=True)
    lib = _lib.load(str(package), environ={})
    assert lib.fconv_abi_version() == fc.ABI_VERSION


def test_missing_library_lists_where_it_looked(tmp_path):
    env = dict(os.environ, FACTORCONV_LIB=str(tmp_path / "nowhere.so"),
               PYTHONPATH=os.path.dirname(PACKAGE_DIR))
    result = subprocess.run([sys.executable, "-c", "import factorconv"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "nowhere.so: not found" in result.stderr and "make lib" in result.stderr
    with pytest.raises(ImportError, match="bundled copy .*not found"):
        _lib.load(str(tmp_path / "pkg"), environ={})


def test_thread_count_round_trip():
    try:
        for n in (1, 2, 3):
            fc.set_num_threads(n)
            assert fc.get_num_threads() == n
    finally:
        fc.set_num_threads(0)
    assert fc.get_num_threads() >= 1


def test_public_api_has_docstrings():
    for name in fc.__all__:
        obj = getattr(fc, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
