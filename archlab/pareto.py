"""``python -m archlab.pareto``: the Pareto front of result CSVs, printed and plotted.

    python -m archlab.pareto reports/studies/width.csv --x latency_ms_median --y miou
    python -m archlab.pareto a.csv b.csv --x fps --y miou --maximize-x --front-csv front.csv
    python -m archlab.pareto zoo.csv --x macs_fvcore --y miou \\
        --ref-x published_gflops --ref-y published_miou_pct --ref-twin "published mIoU, Cityscapes val (%)"

Several CSVs are concatenated, with a ``source`` column holding each file's stem. By default x is
minimised and y maximised; the plot goes next to the first CSV as ``<stem>_pareto_<x>_<y>.png``.
Reference points (published figures) come from the ``--ref-x`` / ``--ref-y`` columns of the same
rows, where both are present; they are drawn apart from the measured front (see
:mod:`archlab.report.pareto`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archlab import cli
from archlab.files import atomic_write_csv

DEFAULT_LABELS = ("variant", "model", "name")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m archlab.pareto", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", nargs="+", type=Path, help="result CSV files (rows are concatenated)")
    p.add_argument("--x", required=True, help="x column, e.g. latency_ms_median, macs_fvcore, fps")
    p.add_argument("--y", required=True, help="y column, e.g. miou")
    p.add_argument("--label", help=f"label column (default: the first of {', '.join(DEFAULT_LABELS)} present)")
    p.add_argument("--out", type=cli.writable_file("--out"), help="PNG path (default: next to the first CSV)")
    p.add_argument("--maximize-x", action="store_true", help="larger x is better (e.g. fps)")
    p.add_argument("--minimize-y", action="store_true", help="smaller y is better")
    p.add_argument("--ref-x", help="column with the reference (published) x, e.g. published_gflops")
    p.add_argument("--ref-y", help="column with the reference (published) y, e.g. published_miou_pct")
    p.add_argument("--ref-twin", metavar="TITLE", help="draw reference y on a right-hand axis with this title")
    p.add_argument("--title", default="", help="plot title")
    p.add_argument("--notes", default="", help="small print under the plot (device, input size, method)")
    p.add_argument("--front-csv", type=cli.writable_file("--front-csv"), help="also write the front rows (label, x, y) to this CSV")
    return p


def read_results(paths: list[Path]):
    """The CSVs concatenated; with several files a ``source`` column names each row's file stem."""
    import pandas as pd

    frames = []
    for path in paths:
        frame = pd.read_csv(path)
        if len(paths) > 1:
            frame["source"] = path.stem
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main(argv=None) -> int:
    import pandas as pd

    from archlab.report.pareto import pareto_mask, pareto_plot

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.ref_x is None) != (args.ref_y is None):
        parser.error("--ref-x and --ref-y go together")
    if args.ref_twin and args.ref_x is None:
        parser.error("--ref-twin needs --ref-x and --ref-y")
    for path in args.csv:
        if not path.is_file():
            print(f"error: {path}: no such file", file=sys.stderr)
            return 2
    try:
        frame = read_results(args.csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        print(f"error: cannot read the CSV files as tables: {e}", file=sys.stderr)
        return 2

    label = args.label or next((c for c in DEFAULT_LABELS if c in frame.columns), None)
    wanted = {"--x": args.x, "--y": args.y, "--label": args.label, "--ref-x": args.ref_x, "--ref-y": args.ref_y}
    for option, column in wanted.items():
        if column is not None and column not in frame.columns:
            print(f"error: {option} {column!r} is not a column of {', '.join(map(str, args.csv))}; available "
                  f"columns: {', '.join(map(str, frame.columns))}", file=sys.stderr)
            return 2

    if label is not None and "source" in frame.columns:
        # the same label from two files gets the file stem, so the plot and the table stay unambiguous
        text = frame[label].astype("string")
        shared = frame.groupby(text, dropna=True)["source"].transform("nunique") > 1
        frame[label] = text.where(~shared, text + " [" + frame["source"] + "]")

    reference = None
    if args.ref_x is not None:
        both = frame[args.ref_x].notna() & frame[args.ref_y].notna()
        reference = frame[both]
    out = args.out or args.csv[0].with_name(f"{args.csv[0].stem}_pareto_{args.x}_{args.y}.png")
    try:
        path = pareto_plot(frame, args.x, args.y, out, label=label, minimize_x=not args.maximize_x,
                           maximize_y=not args.minimize_y, reference=reference, reference_x=args.ref_x,
                           reference_y=args.ref_y, reference_twin_y=args.ref_twin, title=args.title,
                           notes=args.notes)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    x = pd.to_numeric(frame[args.x], errors="coerce")
    y = pd.to_numeric(frame[args.y], errors="coerce")
    mask = pareto_mask(x, y, not args.maximize_x, not args.minimize_y)
    columns = [c for c in (label, "source", args.x, args.y) if c is not None and c in frame.columns]
    front = frame.loc[mask, list(dict.fromkeys(columns))].assign(_x=x[mask]).sort_values("_x").drop(columns="_x")
    print(f"Pareto front of {len(front)} / {int((x.notna() & y.notna()).sum())} rows "
          f"({'max' if args.maximize_x else 'min'} {args.x}, {'min' if args.minimize_y else 'max'} {args.y}):")
    print(front.to_string(index=False))
    if args.front_csv:
        atomic_write_csv(args.front_csv, front)
        print(f"front written to {args.front_csv}")
    print(f"plot written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
