"""``python -m archlab.parity``: archlab's model beside a reference implementation.

    python -m archlab.parity fast_scnn --reference my_shims:fast_scnn --reference-path ~/shims
    python -m archlab.parity fassd_net --reference fassd_authors:fassd_net --reference-path ~/shims \\
        --size 1024x2048 --latency-size 512x1024 --threads 2 --rounds 10 --markdown reports/parity/parity.md
    python -m archlab.parity my_spec.json --reference pkg.models:build --reference-kwargs '{"n_classes": 19}' --json

Prints parameters, MACs by every counter, output shape, leaf layers by type and eager latency
(one interleaved run) side by side; the structural diff of the layers each network runs; and,
when the structures are identical, whether the outputs agree with archlab's weights copied into
the reference. Exit 0 on a finished comparison (whatever it found), 2 on a request that cannot
be run (the message names the argument).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from archlab import cli

PROG = "python -m archlab.parity"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (exit 2) like every other archlab failure."""

    def error(self, message):
        sys.stderr.write(f"{PROG}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help="archlab zoo name (python -m archlab.zoo lists them; backbones too) or a spec .json file")
    p.add_argument("--reference", required=True, metavar="PKG.MODULE:FACTORY",
                   help="the reference: FACTORY(**kwargs) must return its nn.Module")
    p.add_argument("--reference-path", action="append", default=[], metavar="DIR", type=Path,
                   help="directory put at the front of sys.path for the import (repeatable)")
    p.add_argument("--reference-kwargs", metavar="JSON",
                   help="keyword arguments for FACTORY, e.g. '{\"n_classes\": 19}'")
    p.add_argument("--num-classes", type=cli.positive_int, default=19,
                   help="classes of archlab's zoo model (default 19)")
    cli.add_size(p, default=(1024, 2048), help="input HxW for counts, the structural diff and the output check (default 1024x2048)")
    p.add_argument("--latency-size", type=cli.parse_size, default=(512, 1024),
                   help="input HxW for latency (default 512x1024)")
    cli.add_threads(p, help="CPU threads for timing (default: torch's setting)")
    p.add_argument("--rounds", type=cli.positive_int, default=10, help="interleaved timing rounds (default 10)")
    p.add_argument("--forwards", type=cli.positive_int, default=5,
                   help="timed forwards per side per round; a round's figure is their median (default 5)")
    p.add_argument("--warmup", type=cli.non_negative_int, default=3, help="untimed forwards per side (default 3)")
    cli.add_device(p, default="cpu", help="device for latency only: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--no-latency", action="store_true", help="counts and structure only")
    p.add_argument("--no-weights-check", action="store_true",
                   help="skip running both with archlab's weights when the structures are identical")
    p.add_argument("--allow-shape-mismatch", action="store_true",
                   help="compare even when the outputs' shapes differ (otherwise an error)")
    p.add_argument("--reference-source", metavar="TEXT",
                   help="where the reference code came from (repository, commit, how it was checked out), "
                        "written into the report's section")
    p.add_argument("--markdown", type=cli.writable_file("--markdown"), metavar="PATH", help="write (upsert) this model's section into PATH")
    p.add_argument("--json", action="store_true", help="print everything as JSON instead of the text report")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    from archlab.parity import compare
    from archlab.parity.reference import ParityError, parse_kwargs
    from archlab.parity.report import upsert

    command = " ".join([PROG, shlex.join(argv)])
    quiet = args.json

    def progress(text: str) -> None:
        if not quiet:
            print(f"... {text}", file=sys.stderr, flush=True)

    try:
        kwargs = parse_kwargs(args.reference_kwargs)
        result = compare(args.model, args.reference, (1, 3) + args.size, latency=not args.no_latency,
                         latency_size=(1, 3) + args.latency_size, threads=args.threads, rounds=args.rounds,
                         forwards=args.forwards, warmup=args.warmup, device=args.device,
                         reference_path=args.reference_path, reference_kwargs=kwargs, num_classes=args.num_classes,
                         allow_shape_mismatch=args.allow_shape_mismatch, weights_check=not args.no_weights_check,
                         command=command, reference_source=args.reference_source, progress=progress)
        if args.markdown:
            try:
                upsert(args.markdown, result)
            except OSError as exc:
                raise ParityError("markdown", str(args.markdown),
                                  f"cannot be written ({exc.strerror or exc})") from None
    except ParityError as exc:
        print(f"{PROG}: error: {exc.cli_message()}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print("\n".join(result.lines()))
    if args.markdown:
        print(f"wrote the {result.model} section of {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
