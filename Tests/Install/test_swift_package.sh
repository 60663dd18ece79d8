#!/usr/bin/env bash
# The Swift dependency (`make test-install-swift`): a separate package, MyApp, next to a link named
# factorconv to this checkout, whose Package.swift is the manifest block of a document and
# whose program is each Swift block of it in turn, built (debug) and run. Two documents: the
# README, and the DocC articles of Sources/FactorConv/FactorConv.docc. The package must resolve
# to FactorConv alone: nothing fetched, no swift-argument-parser (only the tool uses it).
# Usage: Tests/Install/test_swift_package.sh WORKDIR   (from the repository root)
set -euo pipefail
work=$(realpath -m "$1")
repo=$(pwd)
mkdir -p "$work"
rm -rf "$work/factorconv" "$work/run"
ln -s "$repo" "$work/factorconv"
checks=0
pass() { checks=$((checks + 1)); echo "   ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# build_and_run NAME FILE...: the package MyApp from the Swift blocks of FILEs (one package
# for both documents, so that the second build reuses the first one's FactorConv).
build_and_run() {
    local name=$1; shift
    local package=$work/MyApp blocks
    mkdir -p "$package/Sources/MyApp" "$work/blocks-$name" "$work/run"
    blocks=$(python3 Tests/Snippets/snippets.py swift "$work/blocks-$name" "$@")
    cp "$work/blocks-$name/Package.swift" "$package/Package.swift"
    cp "$work/blocks-$name/$(grep -m1 '^program-' <<<"$blocks")" "$package/Sources/MyApp/main.swift"
    local dependencies
    dependencies=$(cd "$package" && swift package show-dependencies --format flatlist)
    [ "$dependencies" = "factorconv" ] || fail "$name: the package resolves to: $dependencies"
    [ ! -e "$package/.build/checkouts" ] || [ -z "$(ls -A "$package/.build/checkouts")" ] \
        || fail "$name: packages were fetched: $(ls "$package/.build/checkouts")"
    pass "$name: the manifest resolves to factorconv alone, nothing fetched"
    for program in $(grep '^program-' <<<"$blocks"); do
        cp "$work/blocks-$name/$program" "$package/Sources/MyApp/main.swift"
        swift build --package-path "$package" >"$work/build-$name.log" 2>&1 || { cat "$work/build-$name.log"; fail "$name: $program does not build"; }
        (cd "$work/run" && "$package/.build/debug/MyApp") || fail "$name: $program failed ($(head -1 "$work/blocks-$name/$program"))"
        pass "$name: $(head -1 "$work/blocks-$name/$program" | sed 's|^// ||') builds and runs"
    done
    [ ! -e "$package/.build/checkouts/swift-argument-parser" ] || fail "$name: swift-argument-parser was fetched"
}

build_and_run readme README.md
build_and_run docc Sources/FactorConv/FactorConv.docc/*.md
echo "$checks passed, 0 failed"
