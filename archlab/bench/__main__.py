"""``python -m archlab.bench compare BASE_REV [HEAD_REV]``: a same-machine latency comparison.

Exit status: 0 when no benchmark is slower beyond the threshold and the noise, 1 when one is,
2 for a usage error or a failed run (an unknown revision, a suite that fails or is missing).
Everything after ``--`` goes to pytest (for example ``-- --bench-threads 2``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from archlab.bench.compare import (DEFAULT_MAX_TIME, DEFAULT_MIN_ROUNDS, DEFAULT_ROUNDS, DEFAULT_SUITE, NOISE_FRACTION,
                                   DEFAULT_STAT, STATS, THRESHOLD, WORKTREE, CompareError, compare_revisions)


def _fraction(text: str) -> float:
    """'10%', '0.1' → 0.1."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (0.1) or a percentage (10%)") from None
    if not 0 < value < 10:
        raise argparse.ArgumentTypeError(f"{text!r}: the threshold must be above 0 (0.1 or 10% = 10% slower)")
    return value


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive {kind.__name__}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m archlab.bench",
                                     description="Latency regression checks for archlab's benchmark suite.")
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run the benchmark suite at two revisions on this machine, interleaved, and flag slowdowns",
        description="Run the benchmark suite at BASE_REV and HEAD_REV on this machine, interleaved (one run of\n"
                    "each per round, the order swapping every round), and print each benchmark's median ratio\n"
                    "(head / base) with the range of the per-round ratios.",
        epilog=f"A benchmark is flagged when its median ratio exceeds 1 + threshold and every round's ratio "
               f"exceeds 1 + {NOISE_FRACTION:g} x threshold.\nExit status: 0 nothing flagged, 1 something flagged, "
               f"2 error. Arguments after -- go to pytest.")
    cmp.add_argument("base", metavar="BASE_REV", help="the reference revision (a branch, tag, SHA, HEAD~1, ...)")
    cmp.add_argument("head", metavar="HEAD_REV", nargs="?", default="HEAD",
                     help=f"the revision to check (default HEAD; '{WORKTREE}' = the working tree, uncommitted "
                          f"changes included)")
    cmp.add_argument("--threshold", type=_fraction, default=THRESHOLD,
                     help=f"slowdown that fails, as 0.1 or 10%% (default {THRESHOLD:g})")
    cmp.add_argument("--rounds", type=_positive(int), default=DEFAULT_ROUNDS,
                     help=f"interleaved runs per revision (default {DEFAULT_ROUNDS})")
    cmp.add_argument("-k", dest="k", default=None, metavar="EXPRESSION",
                     help="pytest -k expression selecting benchmarks (e.g. 'mda or dapf')")
    cmp.add_argument("--suite", default=DEFAULT_SUITE,
                     help=f"the benchmark suite, relative to the repository root (default {DEFAULT_SUITE})")
    cmp.add_argument("--max-time", type=_positive(float), default=DEFAULT_MAX_TIME,
                     help=f"seconds of timed rounds per benchmark per run (default {DEFAULT_MAX_TIME})")
    cmp.add_argument("--min-rounds", type=_positive(int), default=DEFAULT_MIN_ROUNDS,
                     help=f"timed rounds per benchmark per run, at least (default {DEFAULT_MIN_ROUNDS})")
    cmp.add_argument("--stat", choices=STATS, default=DEFAULT_STAT,
                     help="each run's figure per benchmark: its fastest timed round (min, the default: other "
                          "programs can only slow a round down) or the median of its rounds")
    cmp.add_argument("--repo", default=".", help="a directory inside the git repository (default: here)")
    cmp.add_argument("--json", dest="json_path", default=None, metavar="PATH", help="also write the report as JSON")
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    try:
        report = compare_revisions(args.base, args.head, repo=args.repo, rounds=args.rounds, threshold=args.threshold,
                                   k=args.k, suite=args.suite, max_time=args.max_time, min_rounds=args.min_rounds,
                                   pytest_args=pytest_args, stat=args.stat)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.table())
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 1 if report.flagged else 0


if __name__ == "__main__":
    sys.exit(main())
