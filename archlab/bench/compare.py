"""Same-machine comparison of two revisions' benchmark suites, run interleaved.

A baseline saved on another day or machine is noisy; this runs both revisions now, here:

1. Each revision is exported from git (``git archive``, so the repository is only read) into a
   temporary directory; ``HEAD_REV = "."`` uses the working tree as it is, uncommitted changes
   included.
2. The suite (default ``tests/bench``) runs as ``python -m pytest SUITE --benchmark-enable
   --benchmark-only --benchmark-json=... -p no:cacheprovider`` in each revision's tree, with
   ``PYTHONPATH`` set to that tree, so the revision's own ``archlab`` and ``blocks`` are imported,
   never the installed copy. Benchmarks record where they imported packages from
   (``extra_info["sources"]``); a package the tree contains but that was imported from elsewhere
   is an error.
3. The runs are interleaved, one base and one head run per round for ``rounds`` rounds, the
   order swapping every round (base head, head base, base head, ...): a drift of the machine's
   load or an advantage of running first or second then shows up as spread between rounds, not
   as a bias of one side. Each run uses few benchmark rounds (``--benchmark-max-time``,
   ``--benchmark-min-rounds``) to bound the time.
4. Per benchmark, each run gives one figure: by default its fastest timed round (``stat="min"``),
   which other programs on a shared machine can only slow down, so it moves much less between
   runs than the run's median (``stat="median"``). On this project's 2-core VM, the whole suite
   compared with itself (identical code, 3 rounds) flagged 4 of 50 benchmarks from the per-run
   medians and none from the per-run minima of the same runs. :func:`judge` compares the sides.

**The rule** (:func:`judge`): ``ratio = median(head figures) / median(base figures)`` over the
rounds (the "median ratio"); the spread
is the range of the per-round ratios ``head_r / base_r`` (a round pairs two runs made next to
each other, so slow phases of a shared machine hit both). A benchmark is flagged **slower** when
``ratio > 1 + threshold`` *and* every round agrees beyond the noise: the lowest per-round ratio
exceeds ``1 + threshold / 2``. A median slowdown above the threshold that some round does not
show is reported as ``slower? (noise)`` and not flagged. ``faster`` mirrors the rule and never
fails. With one round there is no spread to measure and the rule is the threshold alone.
"""
from __future__ import annotations

import io
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from archlab.errors import ArchlabError

THRESHOLD = 0.10
NOISE_FRACTION = 0.5  # every round's ratio must exceed 1 + NOISE_FRACTION * threshold
WORKTREE = "."
DEFAULT_SUITE = "tests/bench"
DEFAULT_ROUNDS = 3
DEFAULT_MAX_TIME = 0.5  # s per benchmark per run (pytest-benchmark's --benchmark-max-time)
DEFAULT_MIN_ROUNDS = 5
STATS = ("min", "median")  # the per-run figure of each benchmark's timed rounds
DEFAULT_STAT = "min"

SLOWER, NOISE, FASTER, SAME = "SLOWER", "slower? (noise)", "faster", "ok"
ONLY_BASE, ONLY_HEAD = "only in base", "only in head"


class CompareError(ArchlabError):
    """A problem with the comparison's inputs or a run (exit status 2), with a readable message."""


# --------------------------------------------------------------------------------------------
# The rule


@dataclass(frozen=True)
class Verdict:
    """One benchmark's comparison. Times in seconds; ratios head / base."""

    name: str
    base_s: tuple[float, ...]
    head_s: tuple[float, ...]
    ratio: float | None
    low: float | None  # the lowest per-round ratio
    high: float | None  # the highest per-round ratio
    status: str
    flagged: bool


def judge(name: str, base_s, head_s, threshold: float = THRESHOLD) -> Verdict:
    """Compare one benchmark's per-round medians (seconds) of the base and head runs.

    ``base_s[r]`` and ``head_s[r]`` come from round ``r`` (run one after the other). Flagged when
    ``median(head_s) / median(base_s) > 1 + threshold`` and ``min_r head_s[r] / base_s[r] >
    1 + threshold / 2``. An empty side gives ``"only in base"``/``"only in head"``.
    """
    if not (isinstance(threshold, (int, float)) and 0 < threshold < 10):
        raise ValueError(f"threshold={threshold!r} must be a fraction between 0 and 10 (0.10 = 10%)")
    base, head = tuple(float(v) for v in base_s), tuple(float(v) for v in head_s)
    for side, values in (("base", base), ("head", head)):
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"{name}: {side} times must be positive and finite, got {values}")
    if not base or not head:
        status = ONLY_HEAD if not base else ONLY_BASE
        return Verdict(name, base, head, None, None, None, status, False)
    ratio = statistics.median(head) / statistics.median(base)
    per_round = [h / b for h, b in zip(head, base)] or [ratio]
    low, high = min(per_round), max(per_round)
    margin = 1 + NOISE_FRACTION * threshold
    if ratio > 1 + threshold:
        flagged = low > margin
        status = SLOWER if flagged else NOISE
    else:
        flagged = False
        status = FASTER if ratio < 1 / (1 + threshold) and high < 1 / margin else SAME
    return Verdict(name, base, head, ratio, low, high, status, flagged)


# --------------------------------------------------------------------------------------------
# Git and the revisions' trees


def _git(repo: Path, *args: str, binary: bool = False):
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary)
    except FileNotFoundError:
        raise CompareError("git is not installed (compare needs git to export the revisions)") from None
    if proc.returncode:
        err = proc.stderr.decode(errors="replace") if binary else proc.stderr
        raise CompareError(f"git {' '.join(args)} failed in {repo}: {err.strip()}")
    return proc.stdout


def repo_root(path) -> Path:
    """The top of the git work tree containing ``path``."""
    path = Path(path)
    if not path.exists():
        raise CompareError(f"--repo {path} does not exist")
    proc = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if proc.returncode:
        raise CompareError(f"{path.resolve()} is not inside a git repository; run compare from a clone of the "
                           f"project or pass --repo PATH")
    return Path(proc.stdout.strip())


def resolve_revision(repo: Path, rev: str) -> str:
    """The commit SHA ``rev`` names; a clear error when git cannot resolve it."""
    if not rev or rev.startswith("-"):
        raise CompareError(f"git cannot resolve {rev!r} to a commit (a revision cannot be empty or start with '-')")
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if proc.returncode:
        raise CompareError(f"git cannot resolve {rev!r} to a commit in {repo} (try a branch, a tag, a SHA or "
                           f"HEAD~1; '.' means the working tree)")
    return proc.stdout.strip()


def export_revision(repo: Path, sha: str, dest: Path) -> Path:
    """Write commit ``sha``'s files into ``dest`` (``git archive``; the repository is only read)."""
    data = _git(repo, "archive", "--format=tar", sha, binary=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without the extraction filters
            tar.extractall(dest)
    link_mapped_packages(dest)
    return dest


#: Packages that live in a folder of their own in the repository and install under archlab (pyproject's package-dir).
MAPPED_PACKAGES = {"archlab.blocks": "blocks", "archlab.studies": "studies"}


def link_mapped_packages(tree: Path) -> None:
    """In an exported revision whose pyproject maps ``blocks/`` to ``archlab.blocks`` (and ``studies/``), link
    ``archlab/blocks -> ../blocks`` so that ``PYTHONPATH=tree`` imports the revision's own blocks (an
    installed archlab's mapping would otherwise supply another revision's)."""
    pyproject = tree / "pyproject.toml"
    if not pyproject.is_file() or '"archlab.blocks"' not in pyproject.read_text():
        return
    for package, folder in MAPPED_PACKAGES.items():
        link = tree.joinpath(*package.split("."))
        if (tree / folder).is_dir() and not link.exists():
            link.symlink_to(Path("..") / folder, target_is_directory=True)


def _package_in(tree: Path, package: str) -> Path:
    """Where ``package`` lives in a repository tree (a mapped package in its own folder)."""
    nested = tree.joinpath(*package.split("."))
    return nested if nested.exists() or package not in MAPPED_PACKAGES else tree / MAPPED_PACKAGES[package]


@dataclass
class Side:
    """One side of the comparison: the revision as given, its commit and its tree."""

    label: str  # "base" or "head"
    rev: str
    sha: str | None  # None: the working tree
    tree: Path

    @property
    def title(self) -> str:
        if self.sha is None:
            return "working tree"
        return self.sha[:10] if self.sha.startswith(self.rev) else f"{self.rev} = {self.sha[:10]}"


# --------------------------------------------------------------------------------------------
# Running a suite


def suite_env(tree: Path) -> dict:
    """The environment of a run in ``tree``: its root first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def suite_command(suite: str, json_path: Path, *, k: str | None = None, max_time: float = DEFAULT_MAX_TIME,
                  min_rounds: int = DEFAULT_MIN_ROUNDS, pytest_args=()) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider", "--benchmark-enable",
           "--benchmark-only", f"--benchmark-json={json_path}", f"--benchmark-max-time={max_time}",
           f"--benchmark-min-rounds={min_rounds}"]
    if k:
        cmd += ["-k", k]
    return cmd + list(pytest_args)


def check_sources(tree: Path, benchmarks: list[dict], title: str) -> None:
    """Every package a benchmark imported (``extra_info["sources"]``) that ``tree`` contains must
    have been imported from ``tree``; otherwise the run measured another revision's code."""
    root = tree.resolve()
    for bench in benchmarks:
        for package, path in (bench.get("extra_info") or {}).get("sources", {}).items():
            if not _package_in(tree, package).exists():
                continue  # an installed dependency, not part of the revision
            if not Path(path).resolve().is_relative_to(root):
                raise CompareError(f"{title}: {bench.get('fullname')} imported {package!r} from {path}, not from the "
                                   f"revision's tree {tree}; is PYTHONPATH overridden, or is {package!r} installed "
                                   f"in a way that shadows it?")


def run_suite(side: Side, suite: str, json_path: Path, **options) -> dict[str, dict]:
    """Run the suite in ``side.tree``; ``{fullname: benchmark record}`` from pytest-benchmark's JSON."""
    if not (side.tree / suite).exists():
        raise CompareError(f"{side.label} revision ({side.title}) has no {suite} (the benchmark suite); pass "
                           f"--suite PATH (relative to the repository root)")
    cmd = suite_command(suite, json_path, **options)
    proc = subprocess.run(cmd, cwd=side.tree, env=suite_env(side.tree), capture_output=True, text=True)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
    if proc.returncode == 5:
        raise CompareError(f"no benchmarks selected in {suite} at {side.label} revision ({side.title})"
                           + (f" with -k {options.get('k')!r}" if options.get("k") else "") + f":\n{tail}")
    if proc.returncode or not json_path.exists():
        raise CompareError(f"the benchmark suite failed at {side.label} revision ({side.title}) (pytest exit "
                           f"status {proc.returncode}); its output ends:\n{tail}")
    benchmarks = json.loads(json_path.read_text())["benchmarks"]
    check_sources(side.tree, benchmarks, f"{side.label} revision ({side.title})")
    return {b["fullname"]: b for b in benchmarks}


# --------------------------------------------------------------------------------------------
# The comparison


@dataclass
class Report:
    base: Side
    head: Side
    rounds: int
    threshold: float
    suite: str
    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0
    stat: str = DEFAULT_STAT
    samples: dict = field(default_factory=dict)  # {name: {"base"/"head": [{stat: s per run}]}}

    @property
    def flagged(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.flagged]

    def to_dict(self) -> dict:
        side = lambda s: {"rev": s.rev, "sha": s.sha, "title": s.title}  # noqa: E731
        return {"base": side(self.base), "head": side(self.head), "rounds": self.rounds, "threshold": self.threshold,
                "noise_fraction": NOISE_FRACTION, "stat": self.stat, "suite": self.suite,
                "seconds": round(self.seconds, 1), "flagged": [v.name for v in self.flagged],
                "verdicts": [asdict(v) for v in self.verdicts], "samples": self.samples}

    def table(self) -> str:
        t = self.threshold
        lines = [f"base: {self.base.title}    head: {self.head.title}",
                 f"{self.rounds} round(s) interleaved (base head, head base, ...) of {self.suite}; each run's "
                 f"{self.stat} per benchmark, ms = median over rounds",
                 f"threshold {t:.0%}: flagged when the median ratio > {1 + t:.2f} and every round's ratio > "
                 f"{1 + NOISE_FRACTION * t:.3g}", ""]
        width = max([len("benchmark")] + [len(v.name) for v in self.verdicts])
        lines.append(f"{'benchmark':<{width}}  {'base ms':>9}  {'head ms':>9}  {'ratio':>6}  {'rounds min-max':>14}"
                     f"  verdict")

        def ms(values):
            return f"{statistics.median(values) * 1e3:9.3f}" if values else f"{'-':>9}"

        for v in self.verdicts:
            ratio = f"{v.ratio:5.2f}x" if v.ratio is not None else f"{'-':>6}"
            spread = f"{v.low:.2f}-{v.high:.2f}" if v.low is not None else "-"
            lines.append(f"{v.name:<{width}}  {ms(v.base_s)}  {ms(v.head_s)}  {ratio}  {spread:>14}  {v.status}")
        flagged = self.flagged
        lines.append("")
        if flagged:
            lines.append(f"{len(flagged)} benchmark(s) slower than {t:.0%} beyond the noise: "
                         + ", ".join(v.name for v in flagged))
        else:
            lines.append(f"no benchmark slower than {t:.0%} beyond the noise ({len(self.verdicts)} compared, "
                         f"{self.seconds:.0f} s)")
        return "\n".join(lines)


def _short_names(fullnames, suite: str) -> dict[str, str]:
    prefix = suite.rstrip("/") + "/"
    return {f: f[len(prefix):] if f.startswith(prefix) else f for f in fullnames}


def compare_revisions(base: str, head: str = "HEAD", *, repo=".", rounds: int = DEFAULT_ROUNDS,
                      threshold: float = THRESHOLD, k: str | None = None, suite: str = DEFAULT_SUITE,
                      max_time: float = DEFAULT_MAX_TIME, min_rounds: int = DEFAULT_MIN_ROUNDS, pytest_args=(),
                      stat: str = DEFAULT_STAT, progress=None) -> Report:
    """Run ``suite`` at revisions ``base`` and ``head`` (``"."``: the working tree) of the git
    repository at ``repo``, interleaved for ``rounds`` rounds, and judge every benchmark.

    ``stat``: each run's figure per benchmark, ``"min"`` (its fastest round, the default) or
    ``"median"``. ``progress(message)`` is called after each run (default: print to stderr).
    """
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise CompareError(f"rounds={rounds!r} must be an integer >= 1")
    if not (isinstance(threshold, (int, float)) and 0 < threshold < 10):
        raise CompareError(f"threshold={threshold!r} must be a fraction > 0 (0.10 = 10%)")
    if not (isinstance(max_time, (int, float)) and max_time > 0):
        raise CompareError(f"max_time={max_time!r} must be a positive number of seconds")
    if not isinstance(min_rounds, int) or min_rounds < 1:
        raise CompareError(f"min_rounds={min_rounds!r} must be an integer >= 1")
    if stat not in STATS:
        raise CompareError(f"stat={stat!r}; valid: {', '.join(STATS)}")
    if progress is None:
        def progress(message):
            print(message, file=sys.stderr, flush=True)
    started = time.perf_counter()
    root = repo_root(repo)
    shas = {label: (None if rev == WORKTREE else resolve_revision(root, rev))
            for label, rev in (("base", base), ("head", head))}
    options = {"k": k, "max_time": max_time, "min_rounds": min_rounds, "pytest_args": tuple(pytest_args)}
    with tempfile.TemporaryDirectory(prefix="archlab-bench-") as tmp:
        tmp = Path(tmp)
        sides = []
        for label, rev in (("base", base), ("head", head)):
            sha = shas[label]
            tree = root if sha is None else export_revision(root, sha, tmp / label)
            sides.append(Side(label, rev, sha, tree))
        results: dict[str, list[dict[str, dict]]] = {"base": [], "head": []}
        for r in range(rounds):
            for side in (sides if r % 2 == 0 else sides[::-1]):
                t0 = time.perf_counter()
                found = run_suite(side, suite, tmp / f"{side.label}-{r}.json", **options)
                results[side.label].append(found)
                progress(f"round {r + 1}/{rounds}: {side.label} ({side.title}): {len(found)} benchmarks in "
                         f"{time.perf_counter() - t0:.0f} s")
    names = list(dict.fromkeys([n for run in results["base"] + results["head"] for n in run]))
    short = _short_names(names, suite)
    verdicts, samples = [], {}
    for name in names:
        samples[short[name]] = {label: [{k: run[name]["stats"][k] for k in STATS} for run in runs if name in run]
                                for label, runs in results.items()}
        base_s = [run[name]["stats"][stat] for run in results["base"] if name in run]
        head_s = [run[name]["stats"][stat] for run in results["head"] if name in run]
        verdicts.append(judge(short[name], base_s, head_s, threshold))
    return Report(sides[0], sides[1], rounds, float(threshold), suite, verdicts, seconds=time.perf_counter() - started,
                  stat=stat, samples=samples)
