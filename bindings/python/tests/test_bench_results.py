"""Benchmarks/harness.py's record_results, which each `make bench-*` script calls to rewrite its
own section of Benchmarks/RESULTS.md: it replaces only the lines between that section's markers,
appends a section the file lacks, refuses a file whose markers are broken (leaving it as it was),
and the committed RESULTS.md has exactly one marker pair for each section a script records."""

import importlib.util
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
BENCHMARKS = os.path.join(ROOT, "Benchmarks")


@pytest.fixture(scope="module")
def harness():
    """Benchmarks/harness.py as a module (it imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("bench_harness", os.path.join(BENCHMARKS, "harness.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXISTING = """# Benchmark results

Hand-written introduction.

## Alpha

What alpha compares.

<!-- results: Alpha -->
- date: old
old alpha table
<!-- end of results: Alpha -->

Notes on an old alpha run, kept.

## Beta

<!-- results: Beta -->
old beta table
<!-- end of results: Beta -->
Trailing notes.
"""


def test_rewrites_only_its_own_section(harness, tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(EXISTING)
    harness.record_results("Alpha", "| a | b |\n|---|---|\n| 1 | 2 |\n", command="bench_alpha.py --x", path=str(path))
    text = path.read_text()
    before, rest = text.split("<!-- results: Alpha -->\n", 1)
    block, after = rest.split("<!-- end of results: Alpha -->\n", 1)
    old_before, old_rest = EXISTING.split("<!-- results: Alpha -->\n", 1)
    assert before == old_before
    assert after == old_rest.split("<!-- end of results: Alpha -->\n", 1)[1]
    assert "old alpha table" not in block and "- date: old" not in block
    assert block.endswith("| a | b |\n|---|---|\n| 1 | 2 |\n")
    lines = block.split("\n")
    assert re.match(r"- date: \d{4}-\d\d-\d\d \d\d:\d\d", lines[0])
    assert lines[1].startswith("- machine: ") and "nproc %d" % len(os.sched_getaffinity(0)) in lines[1]
    assert re.match(r"- load average \(1/5/15 min\): [\d. ]+ at the start, [\d. ]+ at the end$", lines[2])
    assert lines[3] == "- command: `bench_alpha.py --x`"


def test_rewriting_twice_gives_one_block(harness, tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(EXISTING)
    harness.record_results("Beta", "first", command="c", path=str(path))
    harness.record_results("Beta", "second", command="c", path=str(path))
    text = path.read_text()
    assert text.count("<!-- results: Beta -->") == 1 and text.count("<!-- end of results: Beta -->") == 1
    assert "second\n<!-- end of results: Beta -->\nTrailing notes.\n" in text
    assert "first" not in text and "old beta table" not in text
    assert text.startswith(EXISTING.split("<!-- results: Beta -->")[0])


def test_appends_a_new_section_after_the_rest(harness, tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(EXISTING)
    harness.record_results("Gamma", "gamma table", command="c", path=str(path))
    text = path.read_text()
    assert text.startswith(EXISTING.rstrip("\n") + "\n\n## Gamma\n\n<!-- results: Gamma -->\n")
    assert text.endswith("gamma table\n<!-- end of results: Gamma -->\n")


def test_creates_the_file(harness, tmp_path):
    path = tmp_path / "new.md"
    harness.record_results("Alpha", "t", command="c", path=str(path))
    assert path.read_text().startswith("# Benchmark results\n\n## Alpha\n\n<!-- results: Alpha -->\n")


def test_environment_names_the_file(harness, tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.md"
    monkeypatch.setenv("FACTORCONV_BENCH_RESULTS", str(path))
    assert harness.record_results("Alpha", "t", command="c") == str(path)
    assert "<!-- results: Alpha -->" in path.read_text()


@pytest.mark.parametrize("broken", [
    EXISTING.replace("<!-- end of results: Alpha -->\n", ""),                        # no end
    EXISTING + "<!-- results: Alpha -->\nx\n<!-- end of results: Alpha -->\n",       # two pairs
    EXISTING.replace("<!-- results: Alpha -->\n", "").replace(                       # end before begin
        "Notes on an old alpha run, kept.\n", "<!-- results: Alpha -->\n"),
])
def test_broken_markers_are_refused_and_the_file_kept(harness, tmp_path, broken):
    path = tmp_path / "RESULTS.md"
    path.write_text(broken)
    with pytest.raises(ValueError, match="markers of section 'Alpha'"):
        harness.record_results("Alpha", "t", command="c", path=str(path))
    assert path.read_text() == broken


@pytest.mark.parametrize("name", ["", "two\nlines", "a --> b"])
def test_section_names_that_would_break_the_markers_are_refused(harness, tmp_path, name):
    with pytest.raises(ValueError):
        harness.record_results(name, "t", command="c", path=str(tmp_path / "R.md"))


def test_committed_results_have_well_formed_blocks():
    """Every section a bench script records is in RESULTS.md at most once, as a begin/end pair
    (one not there yet is appended by its first run); the four of `make bench` are there."""
    sections = set()
    for name in os.listdir(BENCHMARKS):
        if name.startswith("bench_") and name.endswith(".py"):
            with open(os.path.join(BENCHMARKS, name), encoding="utf-8") as f:
                sections.update(re.findall(r'record_results\(\s*"([^"]+)"', f.read()))
    required = {"Dense convolution", "Factorized layers", "Decompositions", "A converted CNN"}
    assert required <= sections
    with open(os.path.join(BENCHMARKS, "RESULTS.md"), encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    for section in sections:
        begin, end = "<!-- results: %s -->" % section, "<!-- end of results: %s -->" % section
        assert lines.count(begin) == lines.count(end) <= 1, section
        assert lines.count(begin) == 1 or section not in required, section
        if begin in lines:
            assert lines.index(begin) < lines.index(end), section
