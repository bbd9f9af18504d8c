"""``python -m archlab.search NAME``: search a space of studies/NAME.py; ``--export`` writes its reports.

    python -m archlab.search --list
    python -m archlab.search search_fassd --trials 20                  # reports/search_fassd/study.db
    python -m archlab.search search_fassd --trials 40                  # the same study, extended to 40
    python -m archlab.search search_fassd --trials 200 --workers 2     # 2 processes on a journal file
    python -m archlab.search search_fassd --devices cuda:0,cuda:1      # one worker per GPU (cpu:0,cpu:1: core shares)
    python -m archlab.search search_fassd --objective miou --latency-budget 150
    python -m archlab.search search_fassd --objective miou --fidelity sh --eta 3 --min-steps 7   # successive halving
    python -m archlab.search search_fassd --storage postgresql://me@db/search --trials 500   # on every machine
    python -m archlab.search search_fassd --export                     # front.csv/png, hypervolume.csv/png

--trials N is the study's target, all workers, machines and earlier runs together: a rerun of the
same command finishes an interrupted search, a larger N extends it. A trial whose worker died is
failed once its heartbeat is --grace-period seconds old and run again with the same point.
With --fidelity sh, --trials counts sampled points; promotions to longer trainings are trials of
their own, and only full-budget trials make the front (archlab.search.fidelity).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from archlab import cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m archlab.search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="search space: a name (its file in archlab's studies or a --studies-dir "
                   "folder) or a path to a .py file defining SEARCH")
    p.add_argument("--list", action="store_true", help="list the search spaces, one line each")
    p.add_argument("--trials", type=cli.positive_int, help="the study's target number of trials (default 20; with --export "
                                              "alone, no search is run)")
    p.add_argument("--timeout", type=cli.positive_float, help="seconds after which no new trial is started")
    p.add_argument("--workers", type=cli.positive_int, help="processes on this machine sharing the storage (default: "
                   "one per --devices entry, else 1)")
    p.add_argument("--devices", type=_devices, metavar="LIST", help="worker i runs on entry i mod N of LIST: "
                   "cuda:0,cuda:1 (one GPU each) or cpu:0,cpu:1 (disjoint shares of the cores, one thread per core); "
                   "trials run on the kind (cuda or cpu), the study's device")
    p.add_argument("--storage", help="sqlite:///PATH, journal:PATH (or PATH.journal/.log), postgresql://... "
                                     "(default reports/NAME/study.db; a journal file there once --workers > 1)")
    p.add_argument("--objective", help="accuracy to maximise: miou or proxy:NAME (default: the space's)")
    p.add_argument("--metric", choices=("latency", "macs"), help="cost to minimise (default: the space's)")
    p.add_argument("--latency-budget", type=cli.positive_float, metavar="MS", help="constraint: latency at most MS ms")
    cli.add_device(p, default=None, help="cpu, cuda or cuda:N: latency, proxies and training (default cpu; with "
                   "--devices, their kind)")
    cli.add_threads(p, help="torch CPU threads per worker (default: cores / workers)")
    p.add_argument("--seeds", type=cli.positive_int, help="with --objective miou: trainings per trial (seeds 0..N-1; "
                   "the front shows the mean and its 95%% interval; default: the space's)")
    p.add_argument("--seed", type=cli.non_negative_int, default=0, help="sampler seed (each worker and run derives its own)")
    p.add_argument("--fidelity", choices=("none", "sh"), help="with --objective miou: sh = successive halving over the "
                   "training steps (rungs min-steps, eta x min-steps, ..., the space's steps); default none")
    p.add_argument("--eta", type=cli.positive_int, help="with --fidelity sh: each rung keeps the best 1/eta (an "
                   "integer >= 2; default 3)")
    p.add_argument("--min-steps", type=cli.positive_int, metavar="N", help="with --fidelity sh: training steps of the "
                   "first rung, below the space's (default: the space's steps / eta^2, rounded up)")
    p.add_argument("--bracket", type=cli.positive_int, metavar="N", help="with --fidelity sh: sampled points per "
                   "bracket, >= eta (default eta^(rungs - 1): one point of a full bracket reaches the full budget)")
    cli.add_out_dir(p, help="report directory (default reports/NAME)")
    p.add_argument("--heartbeat", type=cli.positive_int, default=20, metavar="S", help="heartbeat interval of a running trial")
    p.add_argument("--grace-period", type=cli.positive_int, default=60, metavar="S",
                   help="a running trial without a heartbeat for S seconds is failed and retried")
    p.add_argument("--max-retry", type=cli.non_negative_int, default=2, help="retries of a trial whose worker died")
    p.add_argument("--export", action="store_true", help="write front.csv, front.png, hypervolume.csv/png "
                                                         "(after the search when --trials is given)")
    cli.add_backend(p)
    cli.add_studies_dir(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from archlab.errors import ArchlabError
    from archlab.search.space import list_spaces, load_space, parse_accuracy
    from archlab.search.storage import resolve_storage

    if args.list:
        for name in list_spaces(args.studies_dir):
            space = load_space(name, check=False, studies_dirs=args.studies_dir)
            print(f"{name:18s} {space.title} (base {space.base}: {space.describe()})")
        return 0
    if not args.name:
        print("error: give a search space name, or --list", file=sys.stderr)
        return 2
    given = argv if argv is not None else sys.argv[1:]
    command = "python -m archlab.search " + " ".join(shlex.quote(a) for a in given)
    search = args.trials is not None or not args.export
    try:
        # cheap checks first, so a typo costs no model building
        if args.objective is not None:
            parse_accuracy(args.objective)
        space = load_space(args.name, check=False, studies_dirs=args.studies_dir)
        out = args.out or Path("reports") / space.name
        written = []
        if search:
            from archlab.search.runner import SearchSettings, resolve_settings, run_search

            settings = SearchSettings(
                trials=args.trials if args.trials is not None else 20, timeout=args.timeout, workers=args.workers,
                devices=tuple(args.devices or ()), storage=args.storage, objective=args.objective, metric=args.metric,
                latency_budget=args.latency_budget, seeds=args.seeds, device=args.device, threads=args.threads,
                backend=args.backend,
                seed=args.seed, fidelity=args.fidelity, eta=args.eta, min_steps=args.min_steps, bracket=args.bracket,
                out=args.out, heartbeat_interval=args.heartbeat, grace_period=args.grace_period,
                max_retry=args.max_retry)
            resolved = resolve_settings(space, settings)[0]       # options checked against each other
            resolve_storage(args.storage, out, resolved.workers)
            space.check(build=True)
            result = run_search(space, settings)
            _summary(result)
        else:
            resolve_storage(args.storage, out, 1)
        if args.export:
            from archlab.search.export import export

            tick = time.perf_counter()
            written = export(space, storage=args.storage, out=args.out, command=command, threads=args.threads,
                             studies_dirs=args.studies_dir)
            print(f"wrote {', '.join(map(str, written))} ({time.perf_counter() - tick:.0f} s)")
    except (ArchlabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished trials are in the study; run the same command to resume", file=sys.stderr)
        return 130
    return 0


def _devices(text: str) -> list[str]:
    """argparse type: a --devices list (archlab.devices.parse_devices), refused at once when not usable here."""
    from archlab.devices import DeviceError, parse_devices

    try:
        devices = parse_devices(text)
    except DeviceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not devices:
        raise argparse.ArgumentTypeError(f"{text!r} names no device; e.g. cuda:0,cuda:1 or cpu:0,cpu:1")
    return devices


def _summary(result) -> None:
    minutes, seconds = divmod(int(round(result.elapsed_s)), 60)
    print(f"{result.study_name}: {result.trials}/{result.target} trials in {result.storage} "
          f"({result.complete} complete, {result.feasible} feasible, {result.failed} failed, "
          f"{result.retried} retried); this run finished {result.ran} in {minutes}m{seconds:02d}s")
    if result.fidelity:
        print(f"{result.fidelity}: {result.complete} trials complete over all rungs, {result.final} at the full budget "
              f"(only these make the front)")
    if result.front:
        from archlab.report.pareto import axis_unit

        title, scale = axis_unit(result.cost_name)
        print(f"feasible front ({len(result.front)} points; {title}, {result.accuracy_name}):")
        for number, cost, accuracy, label in result.front:
            print(f"  #{number:<4d} {cost * scale:<10.4g} {accuracy:<10.4g} {label}")


if __name__ == "__main__":
    sys.exit(main())
