"""``python -m archlab.study NAME``: run a study and write its reports to reports/NAME/.

    python -m archlab.study --list
    python -m archlab.study dapf_vs_aspp                        # CPU, the study's size, proxy training
    python -m archlab.study dapf_vs_aspp --device cuda --no-train
    python -m archlab.study context_modules --budget steps=100,batch=8 --out /tmp/ctx
    python -m archlab.study path/to/my_study.py --no-train      # your own study file
    python -m archlab.study my_study --studies-dir path/to      # ... or its folder (also $ARCHLAB_STUDIES)
    python -m archlab.study dapf_vs_aspp --workers 2 --threads 1            # 2 worker processes, OUT/jobs.journal
    python -m archlab.study dapf_vs_aspp --devices cuda:0,cuda:1,cuda:2,cuda:3   # one worker per GPU
    python -m archlab.study dapf_vs_aspp --storage postgresql://me@db/jobs  # the same command on every machine
    python -m archlab.study dapf_vs_aspp --status                           # the jobs' state, as JSON

Every stage of every variant is cached in OUT/results.csv by (spec hash, settings): a rerun
skips what is done and an interrupted run resumes; --force redoes everything.
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from dataclasses import fields
from pathlib import Path

from archlab import cli
from archlab.cli import parse_size

#: Budget keys that have their own option (and would otherwise be silently overridden by it).
_BUDGET_OWN_OPTION = {"device": "--device", "data": "--data", "data_root": "--data-root"}


def parse_budget(text: str) -> dict:
    """``steps=200,batch=8,size=64x128,scale=0.5,2.0`` -> TrainConfig overrides, typed like the
    fields they set. Items are split at commas followed by ``KEY=``, so a pair value such as
    ``scale=0.5,2.0`` stays one item."""
    from archlab.train.config import TrainConfig

    types = {f.name: str(f.type) for f in fields(TrainConfig)}
    out = {}
    for item in filter(None, (p.strip() for p in re.split(r",(?=\s*[A-Za-z_-]+\s*=)", text))):
        key, sep, value = item.partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if key in _BUDGET_OWN_OPTION:
            raise argparse.ArgumentTypeError(f"--budget {key}=...: set it with {_BUDGET_OWN_OPTION[key]} instead")
        if not sep or key not in types:
            raise argparse.ArgumentTypeError(f"--budget item {item!r}: expected KEY=VALUE with KEY one of "
                                             f"{', '.join(sorted(set(types) - set(_BUDGET_OWN_OPTION)))}")
        kind = types[key]
        try:
            if key == "size":
                out[key] = parse_size(value)
            elif "tuple[float" in kind:
                low, high = (float(v) for v in value.split(","))
                out[key] = (low, high)
            elif "bool" in kind:
                if value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError
                out[key] = value.lower() in ("1", "true", "yes", "on")
            elif "int" in kind and "float" not in kind:
                out[key] = None if value.lower() == "none" and "None" in kind else int(value)
            elif "float" in kind:
                out[key] = float(value)
            else:
                out[key] = value
        except ValueError:
            example = "LOW,HIGH such as 0.5,2.0" if "tuple[float" in kind else kind
            raise argparse.ArgumentTypeError(f"--budget {key}={value!r} is not a valid {example}") from None
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m archlab.study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="study: a name (its file in archlab's studies or a --studies-dir folder) "
                   "or a path to a .py file defining STUDY")
    p.add_argument("--list", action="store_true", help="list the studies, one line each")
    cli.add_device(p, default="cpu", help="cpu, cuda or cuda:N (latency and training)")
    cli.add_size(p, help="input HxW for counts and latency (default: the study's)")
    p.add_argument("--train", action=argparse.BooleanOptionalAction, default=True,
                   help="proxy-train every variant for mIoU (default on)")
    p.add_argument("--budget", type=parse_budget, default={}, help="training overrides, e.g. steps=300,batch=8")
    p.add_argument("--data", help="dataset for the proxy training (default synthstreets)")
    p.add_argument("--data-root", help="root of the Cityscapes or CamVid tree")
    cli.add_threads(p, help="CPU threads for torch")
    p.add_argument("--runs", type=cli.positive_int, help="interleaved timing rounds: every variant is timed once per round, the "
                   "order rotated, and ratios to the baseline are taken within rounds (default: the study's)")
    p.add_argument("--runs-per-round", type=cli.positive_int, help="timed forwards per variant per round (default: the study's)")
    cli.add_out_dir(p, help="report directory (default reports/NAME)")
    p.add_argument("--runs-dir", type=cli.writable_dir("--runs-dir"), help="training runs (default runs/studies/NAME)")
    p.add_argument("--seeds", type=cli.positive_int, help="trainings per variant, seeds 0..N-1, paired across variants "
                   "(default: the study's; with --calibrate at least 2)")
    p.add_argument("--retime", action="store_true", help="run the timing stage again even when its cached result "
                   "matches (e.g. on a quieter machine); counts and trainings stay cached")
    p.add_argument("--calibrate", action="store_true", help="train every variant at the study's ladder of budgets "
                   "and report which budget's rankings agree between seeds (writes calibration.md/.csv/.png)")
    p.add_argument("--force", action="store_true", help="redo every stage, ignoring cached results")
    cli.add_backend(p)
    cli.add_studies_dir(p)
    fan = p.add_argument_group("fan-out (archlab.study.fanout): jobs shared by workers, devices and machines")
    fan.add_argument("--workers", type=cli.positive_int, help="worker processes on this machine (default 1, or one "
                     "per --devices entry); more than one shares the jobs through the job store")
    fan.add_argument("--devices", type=_devices, default=(), help="one device per worker, e.g. cuda:0,cuda:1 or "
                     "cpu:0,cpu:1 (the cores split into disjoint shares)")
    fan.add_argument("--storage", help="the shared job store: journal:PATH, sqlite:///PATH or postgresql://... "
                     "(default OUT/jobs.journal once fanned out); give the same URL on every machine")
    fan.add_argument("--status", action="store_true", help="print the state of the study's jobs in the store as JSON "
                     "(done, running per worker, waiting, failed, ETA) and exit")
    fan.add_argument("--report", action="store_true", help="write the reports now from every finished job in the "
                     "store (without running jobs)")
    fan.add_argument("--heartbeat", type=cli.positive_int, default=20, metavar="S",
                     help="seconds between a running job's heartbeats")
    fan.add_argument("--grace-period", type=cli.positive_int, default=60, metavar="S",
                     help="a job without a heartbeat for S seconds is failed and retried")
    fan.add_argument("--max-retry", type=cli.non_negative_int, default=2, help="retries of a job whose worker died")
    return p


def _devices(text: str) -> tuple:
    from archlab.devices import DeviceError, parse_devices

    try:
        return tuple(parse_devices(text))
    except DeviceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from archlab.cli import ArgumentError
    from archlab.errors import ArchlabError
    from archlab.study.loader import list_studies, load_study
    from archlab.study.report import write_reports
    from archlab.study.runner import StudySettings, run_study

    if args.list:
        broken: dict[str, str] = {}
        for name in list_studies(broken, args.studies_dir):
            try:
                study = load_study(name, studies_dirs=args.studies_dir)
            except ArchlabError as exc:
                broken[name] = str(exc)
                continue
            print(f"{name:18s} {study.title} ({len(study.variants)} variants, base {study.base})")
        for name, why in sorted(broken.items()):
            print(f"{name:18s} (broken) {why}")
        return 0
    if not args.name:
        print("error: give a study name, or --list", file=sys.stderr)
        return 2
    budget = dict(args.budget)
    if args.data:
        budget["data"] = args.data
    if args.data_root:
        budget["data_root"] = args.data_root
    command = "python -m archlab.study " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    tick = time.perf_counter()
    try:
        study = load_study(args.name, studies_dirs=args.studies_dir)
        workers = args.workers or max(1, len(args.devices))
        if args.devices and args.device != "cpu" and not args.devices[0].startswith(args.device.split(":")[0]):
            raise ArgumentError(f"--device {args.device} and --devices {','.join(args.devices)} disagree; give "
                                f"--devices alone (each worker runs on its own)")
        settings = StudySettings(device=args.device, size=args.size, train=args.train, budget=budget,
                                 threads=args.threads, runs=args.runs, runs_per_round=args.runs_per_round,
                                 seeds=args.seeds, retime=args.retime, backend=args.backend, workers=workers,
                                 devices=args.devices, storage=args.storage, heartbeat_interval=args.heartbeat,
                                 grace_period=args.grace_period, max_retry=args.max_retry)
        out = args.out or Path("reports") / study.name
        if args.calibrate:
            return _calibrate(study, settings, out, args, command)
        if args.status or args.report:
            return _from_store(study, settings, out, args, command)
        written = []

        def report(frame):
            written.extend(write_reports(study, frame, out, command=command, elapsed_s=time.perf_counter() - tick))

        run_study(study, settings, out=out, runs_dir=args.runs_dir, force=args.force, report=report)
    except (ArchlabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished stages are in results.csv; run the same command to resume", file=sys.stderr)
        return 130
    if written:
        print((out / "table.md").read_text())
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _from_store(study, settings, out: Path, args, command: str) -> int:
    """``--status`` (JSON on stdout) or ``--report`` (the reports from the finished jobs in the store)."""
    import json

    from archlab.study import fanout
    from archlab.study.report import write_reports
    from archlab.study.runner import prepare_run

    run = prepare_run(study, settings, out=out, runs_dir=args.runs_dir)
    if args.status:
        print(json.dumps(fanout.status(run), indent=1))
        return 0
    written = []
    fanout.report_from_store(run, lambda frame: written.extend(write_reports(study, frame, out, command=command)))
    if not written:
        print(f"error: no finished job of {study.name} in the job store (--storage, default {out}/jobs.journal): "
              f"nothing to report", file=sys.stderr)
        return 2
    print((out / "table.md").read_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _calibrate(study, settings, out: Path, args, command: str) -> int:
    from archlab.profile.record import device_name
    from archlab.study.calibrate import calibrate, write_calibration

    runs_dir = args.runs_dir or Path("runs") / "studies" / study.name
    summary, variants = calibrate(study, settings, out=out, runs_dir=runs_dir, force=args.force)
    written = write_calibration(study, summary, variants, out, command=command,
                                device=f"{settings.device} ({device_name(settings.device)})")
    print((out / "calibration.md").read_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
