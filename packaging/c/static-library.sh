#!/usr/bin/env bash
# Builds libfactorconv.a from the objects SwiftPM linked into libfactorconv.so (`make
# static-lib`). A plain archive of those objects would not do: a C program would also need the
# Swift runtime's static libraries, and the runtime's registration object (swiftrt.o, which
# registers the metadata sections at start-up) would never be pulled out of an archive, since
# nothing refers to it. So the archive holds one relocatable object (ld -r) made of swiftrt.o,
# the library's objects and the runtime archive members they use, in which every symbol but
# the header's fconv_* functions is made local (no clash with other code in the program).
# Writes OUTPUT and OUTPUT.libs, the system libraries a program must also link (-lstdc++ ...).
# Usage: packaging/c/static-library.sh OBJECTS_LINK_FILE_LIST HEADER OUTPUT
set -euo pipefail
objects_list=$1 header=$2 output=$3
toolchain=$(dirname "$(readlink -f "$(command -v swiftc)")")/..
static=$toolchain/lib/swift_static/linux
work=$(mktemp -d "${TMPDIR:-/tmp}/factorconv-static.XXXXXX")
trap 'rm -rf "$work"' EXIT

mapfile -t objects <"$objects_list"
# The libraries the Swift objects ask for (their autolink entries): the runtime's static
# archives go into the object, the others are the program's to link.
archives=() system=()
for flag in $(swift-autolink-extract "${objects[@]}" -o - | sort -u); do
    if [ -f "$static/lib${flag#-l}.a" ]; then archives+=("$flag"); else system+=("$flag"); fi
done
ld -r -o "$work/combined.o" -L "$static" "$static/$(uname -m)/swiftrt.o" "${objects[@]}" \
    --start-group "${archives[@]}" --end-group
grep -oE '\bfconv_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u >"$work/exports"
objcopy --strip-debug --keep-global-symbols="$work/exports" "$work/combined.o" "$work/factorconv.o"
rm -f "$output"
ar rcs "$output" "$work/factorconv.o"
# The Swift runtime is C++: the program links libstdc++ too (as swiftc's -static-stdlib does).
echo "-lstdc++ ${system[*]}" >"$output.libs"
