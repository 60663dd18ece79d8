"""The fenced code blocks of the READMEs and DocC articles, for the tests that run them.

A block may be preceded by a directive comment, `<!-- snippet: DIRECTIVE -->`:
  (none)        run_snippets.py runs it in a scratch directory shared by the file's blocks, in
                order (python, sh, c: a complete program);
  repository    run_snippets.py runs it (sh) in the repository root, where build commands work;
  make-targets  run_snippets.py checks that its lines are `make TARGET` commands of existing
                targets (the commands that run these tests cannot run inside them);
  NAME          an install test runs it: `snippets.py get FILE NAME` prints it (see CLAIMS).
Swift blocks are compiled and run by Tests/Install/test_swift_package.sh inside a separate
package (`snippets.py swift`): a block starting `// swift-tools-version` is that package's
manifest, any other is a program.

Usage: snippets.py get FILE NAME            print the block named NAME
       snippets.py swift DIR FILE...        write the Swift blocks of FILEs to DIR (Package.swift,
                                            program-N.swift), one name a line on stdout
"""

import os
import re
import sys

#: Named blocks and the test that fetches and runs each (run_snippets.py checks the claim).
CLAIMS = {
    "install-python": "Tests/Install/test_python_install.sh",
    "install-c": "Tests/Install/test_c_install.sh",
}

#: The test that compiles and runs every Swift block (`snippets.py swift`).
SWIFT_TEST = "Tests/Install/test_swift_package.sh"

#: Files whose blocks are tested: the READMEs and the DocC articles.
README_FILES = ["README.md", "bindings/python/README.md", "bindings/c/README.md"]
DOCC_DIRECTORY = "Sources/FactorConv/FactorConv.docc"

FENCE = re.compile(r"^(```+)\s*([\w+-]*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*snippet:\s*([\w-]+)\s*-->$")


class Block:
    """One fenced block: its file, first line number, language, directive (or None) and code."""

    def __init__(self, path, line, language, directive, code):
        self.path, self.line, self.language, self.directive, self.code = path, line, language, directive, code

    def __repr__(self):
        return "%s:%d (%s%s)" % (self.path, self.line, self.language or "no language",
                                 ", " + self.directive if self.directive else "")


def blocks(path):
    """The fenced blocks of the Markdown file ``path``, in order."""
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    found, i, previous = [], 0, ""
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != match.group(1):
            end += 1
        if end == len(lines):
            raise ValueError("%s:%d: unclosed code block" % (path, i + 1))
        directive = DIRECTIVE.match(previous)
        found.append(Block(path, i + 1, match.group(2), directive.group(1) if directive else None,
                           "\n".join(lines[i + 1:end]) + "\n"))
        previous, i = "", end + 1
    return found


def tested_files(root):
    """The READMEs and DocC articles under ``root``, relative to it."""
    docc = os.path.join(root, DOCC_DIRECTORY)
    articles = sorted(os.path.join(DOCC_DIRECTORY, n) for n in os.listdir(docc) if n.endswith(".md"))
    return README_FILES + articles


def named(path, name):
    """The block of ``path`` whose directive is ``name`` (exactly one)."""
    matches = [b for b in blocks(path) if b.directive == name]
    if len(matches) != 1:
        raise SystemExit("%s has %d blocks named %s" % (path, len(matches), name))
    return matches[0]


def write_swift(directory, paths):
    """Writes the Swift blocks of ``paths`` into ``directory``; returns the file names."""
    names, programs = [], 0
    for path in paths:
        for block in blocks(path):
            if block.language != "swift":
                continue
            if block.code.startswith("// swift-tools-version"):
                name = "Package.swift"
            else:
                programs += 1
                name = "program-%d.swift" % programs
            with open(os.path.join(directory, name), "w", encoding="utf-8") as file:
                file.write("// %s:%d\n" % (path, block.line) if name != "Package.swift" else "")
                file.write(block.code)
            names.append(name)
    if names.count("Package.swift") != 1:
        raise SystemExit("expected one Swift manifest block in %s, found %d" % (paths, names.count("Package.swift")))
    return names


def main(argv):
    if len(argv) == 4 and argv[1] == "get":
        sys.stdout.write(named(argv[2], argv[3]).code)
    elif len(argv) >= 4 and argv[1] == "swift":
        print("\n".join(write_swift(argv[2], argv[3:])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
