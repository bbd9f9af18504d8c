"""``python -m archlab.profile``: counts, latency, memory and roofline of zoo models.

    python -m archlab.profile fassd_net --size 1024x2048 --no-latency --json
    python -m archlab.profile --all --size 512x1024 --deploy both --report reports/profile/zoo_cpu
    python -m archlab.profile fast_scnn --size 512x1024 --backend eager,onnxruntime,openvino
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

from archlab import cli

DTYPES = ("fp32", "fp16", "bf16")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m archlab.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="zoo model names (see python -m archlab.zoo)")
    p.add_argument("--all", action="store_true", help="every segmentation model of the zoo")
    cli.add_size(p, default=(1024, 2048), help="input HxW (default 1024x2048)")
    p.add_argument("--batch", type=cli.positive_int, default=1, help="batch size for latency and memory (default 1)")
    cli.add_device(p, default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--dtype", default="fp32", help="fp32, fp16 or bf16, or a comma list such as fp32,fp16")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument("--fuse-bn", action="store_true", help="fold BatchNorm into the preceding convolution")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (needs a C++ compiler on CPU)")
    p.add_argument("--deploy", choices=("off", "on", "both"),
                   help="on = --fuse-bn --channels-last; both = each model with them off and on, in one run")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark on (CUDA)")
    cli.add_backend(p, several=True)
    cli.add_threads(p, help="CPU threads for timing (default: torch's current setting)")
    p.add_argument("--warmup", type=cli.non_negative_int, default=10, help="untimed warm-up runs (default 10)")
    p.add_argument("--runs", type=cli.positive_int, default=30, help="timed runs (default 30)")
    p.add_argument("--no-latency", action="store_true", help="counts only (no timing, and no memory unless --memory)")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="measure peak memory over one forward (default: whenever latency is measured)")
    p.add_argument("--breakdown", action="store_true", help="per-node parameters, MACs and latency share")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.add_argument("--report", type=cli.writable_file("--report"), metavar="PREFIX",
                   help="write PREFIX.csv (row by row, resumable) and PREFIX.md; rows already there are reused")
    p.add_argument("--force", action="store_true", help="with --report: re-measure rows that are already there")
    p.add_argument("--width", type=cli.positive_float, help="width knob applied to every model")
    p.add_argument("--depth", type=cli.positive_float, help="depth knob applied to every model")
    p.add_argument("--alpha", type=cli.positive_float, help="DAPF alpha knob (models with DAPF only)")
    return p


def configurations(args) -> list[dict]:
    """The (dtype, deploy) settings each model is profiled under, in order."""
    dtypes = [d.strip() for d in args.dtype.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise SystemExit(f"--dtype {args.dtype!r}: valid dtypes are {', '.join(DTYPES)} (comma-separated)")
    if args.deploy == "both":
        deploys = [(False, False), (True, True)]
    elif args.deploy == "on":
        deploys = [(True, True)]
    elif args.deploy == "off":
        deploys = [(False, False)]
    else:
        deploys = [(args.fuse_bn, args.channels_last)]
    configs = [{"dtype": d, "fuse_bn": f, "channels_last": c, "backend": "eager"} for d in dtypes for f, c in deploys]
    runtimes = [b for b in args.backend if b != "eager"]
    if "eager" not in args.backend:
        configs = []
    # a runtime optimises the exported graph itself: it runs once per model, from the plain fp32 network
    return configs + [{"dtype": "fp32", "fuse_bn": False, "channels_last": False, "backend": b} for b in runtimes]


def main(argv=None) -> int:
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress

    import archlab
    from archlab.files import CorruptFileError, read_csv
    from archlab.profile.report import print_breakdown, print_records, write_markdown

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    out = Console(width=None if Console().is_terminal else 220)
    err = Console(stderr=True)
    if args.all and args.models:
        raise SystemExit("give model names or --all, not both")
    names = archlab.list_models() if args.all else args.models
    if not names:
        raise SystemExit("name at least one model (python -m archlab.zoo lists them) or pass --all")
    configs = configurations(args)
    knobs = {k: getattr(args, k) for k in ("width", "depth", "alpha") if getattr(args, k) is not None}

    done = pd.DataFrame()
    csv_path = args.report.with_suffix(".csv") if args.report else None
    if csv_path and csv_path.exists():
        try:
            done = read_csv(csv_path, remedy=_CORRUPT_REPORT + ", or rerun with --force")
        except CorruptFileError as exc:
            if not args.force:
                err.print(f"[red]error:[/red] {exc}")
                return 2
            aside = csv_path.with_name(csv_path.name + ".corrupt")
            csv_path.replace(aside)
            err.print(f"[yellow]warning[/yellow]: {csv_path} could not be read; moved it to {aside} and starting "
                      f"the report afresh (--force)")
        if args.force:
            done = pd.DataFrame()
    records = []
    try:
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("profiling", total=len(names) * len(configs))
            for name in names:
                spec = archlab.get_spec(name, **knobs)
                for cfg in configs:
                    label = (f"{name} {cfg['dtype']}" + (" fuse-bn+channels-last" if cfg["fuse_bn"] else "")
                             + (f" {cfg['backend']}" if cfg["backend"] != "eager" else ""))
                    progress.update(task, description=f"profiling {label}")
                    key = {"model": spec.name, "input_size": f"{args.batch}x3x{args.size[0]}x{args.size[1]}",
                           "device": args.device, "compile": args.compile,
                           "threads_requested": args.threads if args.threads else "", **cfg}
                    cached = _cached_row(done, key)
                    if cached is not None:
                        records.append(cached)
                        progress.advance(task)
                        continue
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        result = archlab.profile(
                            spec, (args.batch, 3) + args.size, breakdown=True, device=args.device,
                            compile=args.compile, cudnn_benchmark=args.cudnn_benchmark,
                            latency=not args.no_latency,
                            memory=(not args.no_latency) if args.memory is None else args.memory, warmup=args.warmup,
                            runs=args.runs, threads=args.threads, **cfg)
                    record, table = result.record, result.per_node
                    record["threads_requested"] = key["threads_requested"]
                    for w in caught:
                        if issubclass(w.category, DeprecationWarning):  # library chatter, not about the run
                            continue
                        err.print(f"[yellow]warning[/yellow] ({label}): {w.message}")
                    records.append(record)
                    if csv_path:
                        _append_csv(csv_path, record, key)
                    if args.breakdown and not args.json:
                        print_breakdown(out, record, table)
                    progress.advance(task)
    except archlab.ArchlabError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 2
    except ValueError as exc:  # a deploy option this machine cannot honour (fp16 on CPU, no CUDA, ...)
        err.print(f"[red]error:[/red] {exc}")
        return 2
    if args.json:
        public = [{k: _plain(v) for k, v in r.items() if k != "spec_json"} for r in records]
        print(json.dumps(public[0] if len(public) == 1 else public, indent=2))
    else:
        print_records(out, records)
    if args.report:
        write_markdown(args.report.with_suffix(".md"), records, argv)
        err.print(f"wrote {csv_path} and {args.report.with_suffix('.md')}")
    return 0


_CORRUPT_REPORT = "delete it (its rows are measured again) or write the report elsewhere with --report"


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _cached_row(done, key) -> dict | None:
    if done.empty or any(k not in done.columns for k in key):
        return None
    hits = done[_matches(done, key)]
    return None if hits.empty else {k: _plain(v) for k, v in hits.iloc[-1].to_dict().items()}


def _matches(done, key):
    """Rows of ``done`` whose settings equal ``key`` (compared as text; '' matches a blank cell)."""
    mask = None
    for k, v in key.items():
        col = done[k].astype(str)
        m = (done[k].isna() | (col == "")) if v == "" else col == str(v)
        mask = m if mask is None else mask & m
    return mask


def _append_csv(path: Path, record: dict, key: dict) -> None:
    """Write one finished record, replacing an older row with the same key (a ``--force`` rerun);
    an interrupted run keeps every row finished before it, and two processes writing one report
    keep each other's rows (the file is locked around each read-modify-write)."""
    import pandas as pd

    from archlab.files import update_csv

    def add(old):
        row = pd.DataFrame([record])
        if old is None:
            return row
        if _cached_row(old, key) is not None:
            old = old[~_matches(old, key)]
        return pd.concat([old, row], ignore_index=True)

    update_csv(path, add, remedy=_CORRUPT_REPORT)


if __name__ == "__main__":
    sys.exit(main())
