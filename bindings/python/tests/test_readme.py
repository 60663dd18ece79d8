"""The READMEs' Python snippets run as written: every ```python block of README.md and
bindings/python/README.md, in order, in a scratch directory; the README.md walk-through's shell
block (the factorconv tool) runs between its Python blocks when the tool is built."""

import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
READMES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "bindings", "python", "README.md")]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
TOOL = ".build/release/factorconv"


def blocks(path):
    """(language, code) of each fenced block of ``path``."""
    with open(path) as f:
        return BLOCK.findall(f.read())


@pytest.mark.parametrize("readme", READMES, ids=["README.md", "bindings/python/README.md"])
def test_python_snippets_run(readme, tmp_path, monkeypatch):
    if not os.path.isfile(readme):
        pytest.skip("%s not found (tests run outside the source tree)" % readme)
    monkeypatch.chdir(tmp_path)
    tool = os.environ.get("FACTORCONV_CLI")
    ran = 0
    for language, code in blocks(readme):
        if language == "python":
            if "factorconv.torch" in code or "import torch" in code:
                pytest.importorskip("torch")
            if "tltorch" in code:
                pytest.importorskip("tltorch")
            exec(compile(code, "%s block %d" % (os.path.basename(readme), ran), "exec"), {})
            ran += 1
        elif language == "sh" and TOOL in code:
            # The walk-through: the tool makes the files the next Python block reads.
            if not tool or not os.path.isfile(tool):
                pytest.skip("the factorconv tool is not built (make cli)")
            subprocess.run(["bash", "-euo", "pipefail", "-c", code.replace(TOOL, tool)],
                           check=True, capture_output=True)
    assert ran >= 2
