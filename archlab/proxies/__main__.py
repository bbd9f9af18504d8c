"""``python -m archlab.proxies correlate SPACE``: rank correlation of every zero-cost proxy with trained mIoU.

    python -m archlab.proxies correlate search_fassd                          # 20 architectures, the space's budget
    python -m archlab.proxies correlate search_fassd --samples 30 --seed 1 --budget steps=300,batch=8
    python -m archlab.proxies correlate search_fassd --device cuda --out /tmp/proxy_corr

Samples SPACE's architectures (distinct, deterministic from --seed), scores each untrained network
with every proxy on one fixed batch, trains each with the space's proxy budget (--budget
overrides it) and writes OUT/correlation.md, OUT/correlation.png and OUT/correlation.csv.
Per-architecture results are cached in OUT/samples.csv: a rerun skips finished work, an
interrupted training resumes from its run directory, --force redoes everything.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path


def parse_budget_items(text: str) -> dict:
    """``steps=200,batch=8,size=64x128`` -> TrainConfig overrides; an error names the item at fault."""
    from archlab.study.__main__ import parse_budget

    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.update(parse_budget(item))
        except argparse.ArgumentTypeError as exc:
            message = str(exc)
            raise ValueError(message if message.startswith("--budget") else f"--budget item {item!r}: {message}") \
                from None
    return out


def build_parser() -> argparse.ArgumentParser:
    from archlab import cli
    from archlab.cli import parse_size

    p = argparse.ArgumentParser(prog="python -m archlab.proxies", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("correlate", help="Spearman/Kendall correlation of every proxy with trained mIoU",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("space", help="search space name (archlab.search.load_space)")
    c.add_argument("--samples", type=cli.positive_int, default=20, help="architectures to sample (default 20)")
    c.add_argument("--seed", type=cli.non_negative_int, default=0, help="sampling seed (default 0)")
    c.add_argument("--budget", default="", help="training overrides on top of the space's, e.g. steps=300,batch=8")
    cli.add_device(c, default=None, help="cpu or cuda for proxies and training (default: the budget's, else cpu)")
    cli.add_threads(c, help="CPU threads for torch")
    c.add_argument("--proxy-batch", type=cli.positive_int, help="images in the proxy batch (default: the space's, else 8)")
    c.add_argument("--proxy-size", type=parse_size,
                   help="HxW of the proxy batch (default: the space's proxy size, else the training size)")
    cli.add_out_dir(c, default=Path("reports") / "proxy_correlation", help="report directory (default reports/proxy_correlation)")
    c.add_argument("--runs-dir", type=cli.writable_dir("--runs-dir"), default=Path("runs") / "proxy_correlation",
                   help="training runs (default runs/proxy_correlation)")
    c.add_argument("--force", action="store_true", help="rescore and retrain everything, ignoring the cache")
    return p


def load_space(name: str):
    """The search space ``name`` (:func:`archlab.search.space.load_space`)."""
    from archlab.search.space import load_space as load

    return load(name)


def correlate_command(args, command: str) -> int:
    import platform

    import scipy
    import torch

    from archlab.profile.record import device_name
    from archlab.proxies import proxy_batch
    from archlab.proxies.correlation import batch_digest, correlate, sample_specs, write_report
    from archlab.train import TrainConfig

    tick = time.perf_counter()
    space = load_space(args.space)
    budget = {**dict(space.train), **parse_budget_items(args.budget)}
    if args.device:
        budget["device"] = args.device
    config = TrainConfig(**budget)
    if args.threads:
        torch.set_num_threads(args.threads)
    specs, params = sample_specs(space, args.samples, args.seed)
    proxy = dict(getattr(space, "proxy", None) or {})    # the batch the space's search scores proxies on
    size = tuple(args.proxy_size or proxy.get("size") or config.size)
    batch, batch_seed, dataset = args.proxy_batch or proxy.get("batch", 8), proxy.get("seed", 0), \
        proxy.get("dataset", config.data)
    images, labels = proxy_batch(dataset, size=size, batch=batch, seed=batch_seed,
                                 root=config.data_root if dataset == config.data else None)
    frame = correlate(specs, budget, images, labels, args.out, runs_dir=args.runs_dir, meta=params,
                      force=args.force, threads=args.threads)
    settings = {
        "search space": f"{space.name} ({args.samples} architectures drawn with seed {args.seed}, "
                        f"distinct by spec hash)",
        "training budget": ", ".join(f"{k}={'x'.join(map(str, v)) if k == 'size' else v}"
                                     for k, v in sorted(budget.items())),
        "dataset": f"{config.data}, train {config.size[0]}x{config.size[1]}, mIoU on {config.eval_split}"
                   + (f" (first {config.eval_length} images)" if config.eval_length else ""),
        "training": f"{config.steps} steps x batch {config.batch}, lr {config.lr}, seed {config.seed}",
        "proxy batch": f"{batch} {dataset} train images at {size[0]}x{size[1]}, batch seed {batch_seed} "
                       f"(digest {batch_digest(images, labels)}), networks initialised with seed 0",
        "device": f"{config.device} ({device_name(config.device)}), {platform.machine()}",
        "threads": str(torch.get_num_threads()),
        "software": f"torch {torch.__version__}, scipy {scipy.__version__}, Python {platform.python_version()}",
    }
    written = write_report(frame, args.out, settings=settings, command=command, elapsed_s=time.perf_counter() - tick,
                           space=space.name)
    print((args.out / "correlation.md").read_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from archlab.errors import DataError, SpecError, TrainingError

    argv = sys.argv[1:] if argv is None else argv
    command = "python -m archlab.proxies " + " ".join(shlex.quote(a) for a in argv)
    try:
        return correlate_command(args, command)
    except (SpecError, DataError, TrainingError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished stages are in samples.csv; run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
