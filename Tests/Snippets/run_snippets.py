"""Runs every code block of the READMEs and DocC articles (`make test-snippets`): a block that
no longer runs, or a README that gains a block nobody runs, fails. See snippets.py for the
directives; Swift blocks are left to Tests/Install/test_swift_package.sh, named blocks to the
install tests of snippets.CLAIMS (checked here to fetch them).

Usage: python3 Tests/Snippets/run_snippets.py LIBRARY CLI_DIRECTORY   (from the repository root)
"""

import os
import re
import subprocess
import sys
import tempfile

import snippets

ROOT = os.getcwd()
TIMEOUT = 600


def environment(library, cli_directory):
    """The variables a block runs with: the source tree's package and library, the built tool."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
    env["FACTORCONV_LIB"] = library
    env["PATH"] = cli_directory + os.pathsep + env["PATH"]
    return env


def command(block, scratch, number, library):
    """(argv, working directory) that runs ``block``."""
    if block.directive == "repository":
        if block.language not in ("sh", "bash"):
            raise ValueError("%r: only shell blocks run in the repository" % block)
        return ["bash", "-euo", "pipefail", "-c", block.code], ROOT
    if block.language == "python":
        source = os.path.join(scratch, "snippet-%d.py" % number)
        with open(source, "w", encoding="utf-8") as file:
            file.write(block.code)
        return [sys.executable, source], scratch
    if block.language in ("sh", "bash"):
        return ["bash", "-euo", "pipefail", "-c", block.code], scratch
    if block.language == "c":
        if "int main(" not in block.code:
            raise ValueError("%r: a C block must be a complete program (int main)" % block)
        source, program = os.path.join(scratch, "snippet-%d.c" % number), os.path.join(scratch, "snippet-%d" % number)
        with open(source, "w", encoding="utf-8") as file:
            file.write(block.code)
        library_directory = os.path.dirname(library)
        compile_and_run = ("cc -std=c99 -Wall -Wextra -Werror -I %s %s -L %s -lfactorconv -Wl,-rpath,%s -lm -o %s && %s"
                           % (os.path.join(ROOT, "include"), source, library_directory, library_directory, program, program))
        return ["bash", "-euo", "pipefail", "-c", compile_and_run], scratch
    raise ValueError("%r: no way to run a %r block; give it a language this runner knows" % (block, block.language))


def check_make_targets(block):
    """A make-targets block: every line is `make TARGET...` (and a comment), and every TARGET is
    a rule of the Makefile. Read from make's database (-p) while asking for a target that does
    not exist, so that nothing runs: even `make -n` runs the recipe lines that call $(MAKE)."""
    database = subprocess.run(["make", "-pRrn", "--no-print-directory", "__factorconv_no_such_target__"], cwd=ROOT,
                              capture_output=True, text=True).stdout
    rules = {line.split(":", 1)[0] for line in database.split("\n") if re.match(r"^[\w.-]+:", line)}
    for line in block.code.split("\n"):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] != "make" or len(words) < 2:
            raise ValueError("%r: %r is not a make command" % (block, line))
        missing = [w for w in words[1:] if "=" not in w and not w.startswith("-") and w not in rules]
        if missing:
            raise ValueError("%r: the Makefile has no target %s" % (block, ", ".join(missing)))


def check_claim(block):
    """A Swift block must be compiled by snippets.SWIFT_TEST, a named block be a name of
    snippets.CLAIMS whose test fetches it; returns that test."""
    if block.language == "swift":
        script, fetch = snippets.SWIFT_TEST, "snippets.py swift"
    elif block.directive in snippets.CLAIMS:
        script = snippets.CLAIMS[block.directive]
        fetch = "snippets.py get %s %s" % (block.path, block.directive)
    else:
        raise ValueError("%r: unknown snippet directive %r" % (block, block.directive))
    with open(os.path.join(ROOT, script), encoding="utf-8") as file:
        if fetch not in file.read():
            raise ValueError("%r: %s does not fetch it (%s)" % (block, script, fetch))
    return script


def main(argv):
    library, cli_directory = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    env = environment(library, cli_directory)
    passed = failed = 0
    for path in snippets.tested_files(ROOT):
        with tempfile.TemporaryDirectory(prefix="factorconv-snippets-") as scratch:
            for number, block in enumerate(snippets.blocks(path), 1):
                try:
                    if block.directive == "make-targets":
                        check_make_targets(block)
                        print("   %r: targets of the Makefile" % block)
                        passed += 1
                        continue
                    if block.language == "swift" or block.directive not in (None, "repository"):
                        print("   %r: run by %s" % (block, check_claim(block)))
                        passed += 1
                        continue
                    argv_, cwd = command(block, scratch, number, library)
                    result = subprocess.run(argv_, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
                    if result.returncode != 0:
                        raise ValueError("%r exited %d:\n%s%s" % (block, result.returncode, result.stdout, result.stderr))
                    print("   %r: ran" % block)
                    passed += 1
                except (ValueError, subprocess.TimeoutExpired) as error:
                    print("FAIL %s" % error)
                    failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
