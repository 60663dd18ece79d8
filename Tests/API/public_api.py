#!/usr/bin/env python3
"""The public Swift API of module FactorConv, checked against a committed list.

    public_api.py list  BUILD_DIR              print the public symbols, one a line, sorted
    public_api.py check BUILD_DIR LIST_FILE    fail (exit 1) when they differ from LIST_FILE
    public_api.py update BUILD_DIR LIST_FILE   rewrite LIST_FILE from the build

BUILD_DIR is a SwiftPM debug build directory in which module FactorConv is built
(.build/x86_64-unknown-linux-gnu/debug after `swift build --target FactorConv` or `swift test`).
The symbols come from `swift symbolgraph-extract` on that build's FactorConv.swiftmodule, with
the symbols of modules it re-exports (@_exported import) counted as its own: a user of
`import FactorConv` sees those too. Each line is the symbol's kind, its path and its
declaration, so that a changed signature shows up as well as an added or removed name.
"""

import json
import os
import subprocess
import sys
import tempfile

MODULE = "FactorConv"
# C modules the Swift modules below FactorConv import; the debug build writes their module maps.
C_MODULES = ("FactorConvBLAS", "FactorConvKernels", "FactorConvForkGate", "FactorConvErrorState")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def extract(build_dir, out_dir):
    """Runs swift symbolgraph-extract on MODULE of build_dir, writing JSON files to out_dir."""
    modules = os.path.join(build_dir, "Modules")
    command = ["swift", "symbolgraph-extract", "-module-name", MODULE,
               "-target", "x86_64-unknown-linux-gnu", "-I", modules,
               "-I", os.path.join(REPO, "include"),
               "-module-cache-path", os.path.join(out_dir, "module-cache"),
               "-minimum-access-level", "public",
               # Every module the package builds may be re-exported; the extractor keeps only
               # the ones FactorConv actually re-exports.
               "-experimental-allowed-reexported-modules=FactorConvNumerics,FactorConvBLAS,"
               "FactorConvKernels,FactorConvForkGate,FactorConvErrorState,CFactorConvABI",
               "-output-dir", out_dir]
    for name in C_MODULES:
        path = os.path.join(build_dir, name + ".build", "module.modulemap")
        if os.path.exists(path):
            command += ["-Xcc", "-fmodule-map-file=" + path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("symbolgraph-extract failed (is module FactorConv built in %s?):\n%s%s"
                 % (build_dir, result.stdout, result.stderr))


def symbol_lines(build_dir):
    """The public symbols of MODULE as sorted lines "kind path: declaration"."""
    with tempfile.TemporaryDirectory() as out_dir:
        extract(build_dir, out_dir)
        lines = set()
        for name in os.listdir(out_dir):
            if not name.endswith(".symbols.json"):
                continue
            with open(os.path.join(out_dir, name)) as f:
                graph = json.load(f)
            for symbol in graph["symbols"]:
                if symbol["accessLevel"] not in ("public", "open"):
                    continue
                kind = symbol["kind"]["identifier"].removeprefix("swift.")
                path = ".".join(symbol["pathComponents"])
                declaration = "".join(f["spelling"] for f in symbol.get("declarationFragments", []))
                lines.add("%s %s: %s" % (kind, path, " ".join(declaration.split())))
    return sorted(lines)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("list", "check", "update"):
        sys.exit(__doc__)
    lines = symbol_lines(argv[2])
    if argv[1] == "list":
        print("\n".join(lines))
        return 0
    list_file = argv[3]
    if argv[1] == "update":
        with open(list_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("%s: %d public symbols" % (list_file, len(lines)))
        return 0
    with open(list_file) as f:
        expected = [line for line in f.read().splitlines() if line]
    added = sorted(set(lines) - set(expected))
    removed = sorted(set(expected) - set(lines))
    if not added and not removed:
        print("public API of %s matches %s (%d symbols)" % (MODULE, list_file, len(lines)))
        return 0
    print("The public API of module %s differs from %s." % (MODULE, list_file))
    for line in added:
        print("  + " + line)
    for line in removed:
        print("  - " + line)
    print("If the change is deliberate, update the list and commit it with the change:\n"
          "    make update-public-api\n"
          "(otherwise give the new declarations `package` or `internal` access).")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
