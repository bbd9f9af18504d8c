"""``python -m archlab.bench compare``: the rule on fixed numbers, errors, and two real revisions.

Only ``test_compare_flags_exactly_the_slowed_block`` depends on timing, and only through a
deliberate 3x slowdown judged against a 10% threshold.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archlab.bench.__main__ import main
from archlab.bench.compare import (FASTER, NOISE, ONLY_BASE, ONLY_HEAD, SAME, SLOWER, CompareError, Report, Side,
                                   check_sources, export_revision, judge, resolve_revision, suite_env)

REPO = Path(__file__).resolve().parents[3]


# --- the rule, on fixed numbers ------------------------------------------------------------------

def test_judge_flags_a_slowdown_every_round_agrees_on():
    v = judge("b", [1.0, 1.1, 0.9], [3.0, 3.2, 2.8])
    assert v.status == SLOWER and v.flagged
    assert v.ratio == pytest.approx(3.0) and v.low == pytest.approx(3.2 / 1.1) and v.high == pytest.approx(2.8 / 0.9)


def test_judge_does_not_flag_a_slowdown_within_the_noise():
    # median ratio 1.2 > 1.1, but round 2 shows no slowdown (ratio 1.0 <= 1.05): noise, not flagged
    v = judge("b", [1.0, 1.0, 1.0], [1.2, 1.0, 1.3])
    assert v.ratio == pytest.approx(1.2) and v.low == pytest.approx(1.0)
    assert v.status == NOISE and not v.flagged


def test_judge_boundaries_are_strict():
    assert judge("x", [1.0], [1.1]).status == SAME  # exactly the threshold: not slower
    assert judge("x", [1.0] * 3, [1.12, 1.15, 1.05]).status == NOISE  # lowest round exactly 1 + t/2: within noise
    assert judge("x", [1.0] * 3, [1.12, 1.15, 1.06]).flagged
    assert judge("x", [1.0, 1.0], [1.3, 1.3], threshold=0.5).status == SAME  # a larger threshold


def test_judge_faster_same_and_missing():
    assert judge("x", [1.0, 1.0], [0.5, 0.6]).status == FASTER
    assert judge("x", [1.0, 1.0], [1.02, 0.97]).status == SAME
    assert judge("x", [1.0], []).status == ONLY_BASE and not judge("x", [1.0], []).flagged
    assert judge("x", [], [1.0]).status == ONLY_HEAD
    one_round = judge("x", [1.0], [1.2])  # no spread to measure: the threshold alone
    assert one_round.flagged and one_round.low == one_round.high == pytest.approx(1.2)


def test_judge_rejects_bad_numbers():
    with pytest.raises(ValueError, match="positive and finite"):
        judge("x", [0.0], [1.0])
    with pytest.raises(ValueError, match="threshold"):
        judge("x", [1.0], [1.0], threshold=0)


def test_report_table_names_every_benchmark_and_the_rule():
    sides = Side("base", "v1", "a" * 40, Path(".")), Side("head", ".", None, Path("."))
    verdicts = [judge("fast[a]", [1e-3, 1e-3], [1e-3, 1.01e-3]), judge("slow[b]", [1e-3, 1e-3], [3e-3, 3e-3])]
    report = Report(*sides, rounds=2, threshold=0.1, suite="tests/bench", verdicts=verdicts)
    table = report.table()
    assert "v1 = aaaaaaaaaa" in table and "working tree" in table
    assert "ratio > 1.10 and every round's ratio > 1.05" in table and "each run's min per benchmark" in table
    assert "slow[b]" in table and "3.00x" in table and SLOWER in table
    assert table.splitlines()[-1] == "1 benchmark(s) slower than 10% beyond the noise: slow[b]"
    assert report.to_dict()["flagged"] == ["slow[b]"]


# --- errors ---------------------------------------------------------------------------------------

def test_unknown_revision_is_a_clear_error(capsys):
    assert main(["compare", "xyz-no-such-rev", "--repo", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "git cannot resolve 'xyz-no-such-rev'" in err and "Traceback" not in err


def test_not_a_repository_and_bad_options(tmp_path, capsys):
    assert main(["compare", "HEAD", "--repo", str(tmp_path)]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
    for argv in (["compare", "HEAD", "--threshold", "ten"], ["compare", "HEAD", "--rounds", "0"], ["compare"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    assert exc.value.code == 0 and "every round's ratio exceeds" in capsys.readouterr().out


def test_sources_outside_the_tree_are_an_error(tmp_path):
    (tmp_path / "archlab").mkdir()
    inside = [{"fullname": "t", "extra_info": {"sources": {"archlab": str(tmp_path / "archlab"),
                                                           "torch": "/usr/lib/torch"}}}]
    check_sources(tmp_path, inside, "base")  # torch is not part of the tree: not checked
    outside = [{"fullname": "t", "extra_info": {"sources": {"archlab": "/elsewhere/archlab"}}}]
    with pytest.raises(CompareError, match="imported 'archlab' from /elsewhere/archlab, not from the revision's tree"):
        check_sources(tmp_path, outside, "base")


def test_a_revision_tree_imports_its_own_archlab(tmp_path):
    """The export of a revision, run with compare's environment, imports that revision's archlab
    and blocks, not the editable install in the working copy (even from another directory)."""
    tree = export_revision(REPO, resolve_revision(REPO, "HEAD"), tmp_path / "tree")
    code = "import archlab, blocks; print(archlab.__file__); print(blocks.__file__)"
    for cwd in (tree, tmp_path):
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=suite_env(tree), capture_output=True,
                             text=True, check=True).stdout.split()
        assert [Path(p).resolve().is_relative_to(tree.resolve()) for p in out] == [True, True], out


# --- two revisions in a throwaway repository --------------------------------------------------------

# The blocks are plain Python on purpose: compare's machinery (exports, PYTHONPATH, interleaving,
# the rule) does not depend on what a benchmark computes, and importing torch would add seconds
# to each of the test's pytest runs. That archlab's own trees import their own archlab is tested
# above.
BLOCKS = '''\
"""Two cheap blocks; block b repeats its work {repeats} time(s)."""


def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


class Block:
    def __init__(self, repeats):
        self.repeats = repeats

    def __call__(self, n):
        for _ in range(self.repeats):
            y = work(n)
        return y


def make(name):
    return {{"a": Block(1), "b": Block({repeats})}}[name]
'''

SUITE = '''\
import pytest

import tinyblocks


@pytest.mark.parametrize("name", ["a", "b"])
def test_block(benchmark, name):
    block = tinyblocks.make(name)
    benchmark.extra_info["sources"] = {"tinyblocks": tinyblocks.__file__}
    benchmark(block, 20_000)
'''


def _git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(repo, message, repeats=None, allow_empty=False):
    if repeats is not None:
        (repo / "tinyblocks" / "__init__.py").write_text(BLOCKS.format(repeats=repeats))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, *(["--allow-empty"] if allow_empty else []))
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def tiny_repo(tmp_path):
    repo = tmp_path / "tiny"
    (repo / "tinyblocks").mkdir(parents=True)
    (repo / "tests" / "bench").mkdir(parents=True)
    (repo / "tests" / "bench" / "test_tiny.py").write_text(SUITE)
    (repo / "pyproject.toml").write_text(textwrap.dedent('''\
        [tool.pytest.ini_options]
        addopts = "-p no:cacheprovider"
    '''))
    _git(repo, "init", "-q")
    a = _commit(repo, "A", repeats=1)
    a_again = _commit(repo, "A again: identical code", allow_empty=True)
    b = _commit(repo, "B: block b does its conv three times", repeats=3)
    return repo, a, a_again, b


FAST = ["--rounds", "2", "--max-time", "0.05", "--", "-p", "no:hypothesispytest"]  # after --: pytest's


def _compare(repo, base, head, tmp_path, capsys, *options):
    out = tmp_path / f"{base[:7]}-{head[:7]}.json"
    status = main(["compare", base, head, "--repo", str(repo), "--json", str(out), *options, *FAST])
    return status, json.loads(out.read_text()), capsys.readouterr().out


def test_compare_flags_exactly_the_slowed_block(tiny_repo, tmp_path, capsys):
    repo, a, a_again, b = tiny_repo
    status, report, table = _compare(repo, a_again, b, tmp_path, capsys)
    assert status == 1, table
    assert report["flagged"] == ["test_tiny.py::test_block[b]"], table
    by_name = {v["name"]: v for v in report["verdicts"]}
    assert by_name["test_tiny.py::test_block[b]"]["ratio"] > 2  # three convs instead of one
    assert len(by_name["test_tiny.py::test_block[b]"]["base_s"]) == 2  # one median per round and side
    assert "SLOWER" in table and "1 benchmark(s) slower than 10% beyond the noise" in table


def test_compare_does_not_flag_identical_revisions(tiny_repo, tmp_path, capsys):
    repo, a, a_again, b = tiny_repo
    # a wide threshold: this test is about identical code, and must not fail on a busy machine
    status, report, table = _compare(repo, a, a_again, tmp_path, capsys, "--threshold", "50%")
    assert status == 0 and report["flagged"] == [], table
    assert {v["name"] for v in report["verdicts"]} == {"test_tiny.py::test_block[a]", "test_tiny.py::test_block[b]"}
    assert "SLOWER" not in table and "no benchmark slower than 50% beyond the noise" in table


def test_missing_suite_is_a_clear_error(tiny_repo, capsys):
    repo, a, a_again, b = tiny_repo
    assert main(["compare", a, b, "--repo", str(repo), "--suite", "benchmarks"]) == 2
    assert "has no benchmarks (the benchmark suite)" in capsys.readouterr().err
