#!/usr/bin/env bash
# The C install (`make test-install-c`): the README's `make install` into a DESTDIR stage, then a C program
# (consumer.c) built against the staged tree with pkg-config and with CMake, shared (checked to
# record the library by its SONAME) and static, and run; the tool, man page and completions.
# Usage: Tests/Install/test_c_install.sh WORKDIR   (run from the repository root; make sets it up)
set -euo pipefail
work=$(realpath -m "$1")
rm -rf "$work" && mkdir -p "$work"
prefix=/usr/local
stage=$work/stage
root=$stage$prefix
version=$(make -s print-version)
major=${version%%.*}
checks=0
pass() { checks=$((checks + 1)); echo "   ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# The README's install command, staged with DESTDIR (which make takes from the environment).
block=$(python3 Tests/Snippets/snippets.py get README.md install-c)
[[ $block == *"PREFIX=$prefix "* ]] || fail "the README's install command does not use PREFIX=$prefix: $block"
DESTDIR="$stage" bash -euo pipefail -c "$block" >"$work/install.log"

# The files, the SONAME and the links.
for f in include/factorconv.h "lib/libfactorconv.so.$version" lib/libfactorconv.a lib/pkgconfig/factorconv.pc \
         lib/pkgconfig/factorconv-static.pc \
         lib/cmake/factorconv/factorconvConfig.cmake lib/cmake/factorconv/factorconvConfigVersion.cmake \
         bin/factorconv share/man/man1/factorconv.1 share/bash-completion/completions/factorconv \
         share/zsh/site-functions/_factorconv share/fish/vendor_completions.d/factorconv.fish; do
    [ -f "$root/$f" ] || fail "make install did not install $f"
done
pass "installed files"
[ "$(readlink "$root/lib/libfactorconv.so.$major")" = "libfactorconv.so.$version" ] || fail "libfactorconv.so.$major link"
[ "$(readlink "$root/lib/libfactorconv.so")" = "libfactorconv.so.$major" ] || fail "libfactorconv.so link"
readelf -d "$root/lib/libfactorconv.so.$version" | grep -q "SONAME.*\[libfactorconv.so.$major\]" || fail "SONAME"
pass "libfactorconv.so.$version, SONAME libfactorconv.so.$major, links"
! readelf -S "$root/lib/libfactorconv.so.$version" | grep -q '\.debug_info' || fail "the installed library has debug info"
pass "the library is stripped"

# pkg-config, from the staged tree (the .pc file locates itself).
export PKG_CONFIG_PATH=$root/lib/pkgconfig
[ "$(pkg-config --modversion factorconv)" = "$version" ] || fail "pkg-config --modversion"
cc -std=c99 -Wall -Wextra -Werror $(pkg-config --cflags factorconv) Tests/Install/consumer.c -o "$work/consumer-pc" \
   $(pkg-config --libs factorconv) -lm -Wl,-rpath,"$(pkg-config --variable=libdir factorconv)"
readelf -d "$work/consumer-pc" | grep -q "NEEDED.*\[libfactorconv.so.$major\]" || fail "the program does not record libfactorconv.so.$major"
"$work/consumer-pc"
pass "pkg-config: built, records libfactorconv.so.$major, runs"

# The static library, through its own pkg-config module: no libfactorconv.so needed at run time.
cc -std=c99 -Wall -Wextra -Werror $(pkg-config --cflags factorconv-static) Tests/Install/consumer.c \
   -o "$work/consumer-static" $(pkg-config --libs factorconv-static) -lm
! readelf -d "$work/consumer-static" | grep -q 'NEEDED.*libfactorconv' || fail "the static program needs libfactorconv.so"
! readelf -d "$work/consumer-static" | grep -q 'NEEDED.*libswift' || fail "the static program needs a shared Swift runtime"
"$work/consumer-static"
exported=$(nm -g --defined-only "$root/lib/libfactorconv.a" | awk 'NF == 3 {print $3}' | grep -v '^fconv_' || true)
[ -z "$exported" ] || fail "libfactorconv.a defines global symbols besides fconv_*: $(head -3 <<<"$exported")"
pass "pkg-config factorconv-static: libfactorconv.a (only fconv_* global) built in, runs"

# CMake: find_package(factorconv VERSION) -> factorconv::factorconv (and _static).
cmake -S Tests/Install -B "$work/cmake" -DCMAKE_PREFIX_PATH="$root" -DFACTORCONV_VERSION="$version" >"$work/cmake.log"
cmake --build "$work/cmake" >>"$work/cmake.log"
readelf -d "$work/cmake/consumer" | grep -q "NEEDED.*\[libfactorconv.so.$major\]" || fail "CMake: NEEDED"
"$work/cmake/consumer"
! readelf -d "$work/cmake/consumer_static" | grep -q 'NEEDED.*libfactorconv' || fail "CMake: the static program needs libfactorconv.so"
"$work/cmake/consumer_static"
pass "CMake: find_package(factorconv $version), factorconv::factorconv and factorconv::factorconv_static, run"
if cmake -S Tests/Install -B "$work/cmake-next" -DCMAKE_PREFIX_PATH="$root" -DFACTORCONV_VERSION="$((major + 1)).0" \
     >"$work/cmake-next.log" 2>&1; then
    fail "find_package(factorconv $((major + 1)).0) accepted version $version"
fi
pass "CMake: find_package(factorconv $((major + 1)).0) refused"

# The tool: runs from the stage (Swift runtime linked statically), man page, completions.
ldd "$root/bin/factorconv" | grep -q libswift && fail "the tool links a shared Swift runtime"
[ "$("$root/bin/factorconv" --version)" = "$version" ] || fail "factorconv --version"
pass "factorconv $version runs without the toolchain's Swift runtime"
for command in compress info run bench completion; do
    grep -q "^\.SS $command\$" "$root/share/man/man1/factorconv.1" || fail "the man page lacks $command"
done
if command -v man >/dev/null; then
    warnings=$(man --warnings -l "$root/share/man/man1/factorconv.1" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man page warnings: $warnings"
fi
grep -q 'complete .*-F _factorconv factorconv$' "$root/share/bash-completion/completions/factorconv" || fail "bash completion"
grep -q '^#compdef factorconv' "$root/share/zsh/site-functions/_factorconv" || fail "zsh completion"
grep -q "^complete -c 'factorconv'" "$root/share/fish/vendor_completions.d/factorconv.fish" || fail "fish completion"
pass "man page (every command) and bash/zsh/fish completions"
echo "$checks passed, 0 failed"
