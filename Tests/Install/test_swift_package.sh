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
        swift build --package-path "$package" "${symbol_graphs[@]}" >"$work/build-$name.log" 2>&1 \
            || { cat "$work/build-$name.log"; fail "$name: $program does not build"; }
        (cd "$work/run" && "$package/.build/debug/MyApp") || fail "$name: $program failed ($(head -1 "$work/blocks-$name/$program"))"
        pass "$name: $(head -1 "$work/blocks-$name/$program" | sed 's|^// ||') builds and runs"
    done
    [ ! -e "$package/.build/checkouts/swift-argument-parser" ] || fail "$name: swift-argument-parser was fetched"
}

# The builds also write the modules' symbol graphs, which the DocC check below reads; they live
# in the package's build directory, so a build that reuses a module reuses its graph too.
graphs=$work/MyApp/.build/symbol-graphs
symbol_graphs=(-Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs")
build_and_run readme README.md
build_and_run docc Sources/FactorConv/FactorConv.docc/*.md

# The DocC catalog compiles against the FactorConv module's symbols: every symbol link of its
# articles resolves (a diagnostic in the catalog fails; the source's doc comments are not judged here).
rm -rf "$work/docc-symbols" "$work/docc-output" && mkdir -p "$work/docc-symbols"
cp "$graphs"/FactorConv.symbols.json "$graphs"/FactorConv@*.symbols.json "$work/docc-symbols/"
docc convert Sources/FactorConv/FactorConv.docc --additional-symbol-graph-dir "$work/docc-symbols" \
    --fallback-display-name FactorConv --fallback-bundle-identifier factorconv \
    --output-path "$work/docc-output" >"$work/docc.log" 2>&1 || { cat "$work/docc.log"; fail "docc convert failed"; }
! grep -A1 -E '^(warning|error):' "$work/docc.log" | grep -qE '^ *--> .*\.md:' \
    || { cat "$work/docc.log"; fail "the DocC catalog has diagnostics"; }
[ -d "$work/docc-output/data/documentation/factorconv" ] || fail "docc wrote no documentation for FactorConv"
pass "docc convert: the catalog's articles and symbol links resolve against FactorConv's symbols"
echo "$checks passed, 0 failed"
