"""``python -m archlab.zoo``: list the zoo with parameters and MACs beside the papers' figures."""
from __future__ import annotations

import argparse
import sys


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
        if h < 1 or w < 1:
            raise ValueError
        return h, w
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW with positive integers, e.g. 1024x2048")


def _published_compute(pub: dict) -> str:
    """The paper's compute figure as printed there: GMACs where known to be MACs, else "GFLOPs"."""
    if "gmacs" in pub:
        return f"{pub['gmacs']:.1f} ({pub.get('gmacs_input', '?')})"
    if "gflops" in pub:
        return f"{pub['gflops']:.1f} \"GFLOPs\" ({pub.get('gflops_input', '?')})"
    return "—"


def main(argv=None) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    import archlab
    from archlab.counting import count_params, fvcore_macs
    from archlab.graph import total_stride
    from archlab.zoo import knobs, model_entry

    parser = argparse.ArgumentParser(prog="python -m archlab.zoo", description=__doc__)
    parser.add_argument("models", nargs="*", help="models to show (default: all segmentation models)")
    parser.add_argument("--size", type=parse_size, default=(1024, 2048), help="input HxW for MACs (default 1024x2048)")
    parser.add_argument("--no-macs", action="store_true", help="skip MAC counting (fast listing)")
    parser.add_argument("--backbones", action="store_true", help="also list backbone-only specs")
    parser.add_argument("--blocks", action="store_true", help="list the registered blocks instead")
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough that rows do not wrap
        console = Console(width=200)

    if args.blocks:
        table = Table(title="archlab blocks")
        for col in ("block", "inputs", "parameters (defaults)", "paper"):
            table.add_column(col)
        for b in archlab.list_blocks():
            params = ", ".join(f"{k}={v!r}" if k not in b["required"] else f"{k} (required)"
                               for k, v in b["parameters"].items())
            table.add_row(b["name"], str(b["inputs"]), params, b["paper"])
        console.print(table)
        return 0

    names = args.models or archlab.list_models(kind=None if args.backbones else "segmentation")
    h, w = args.size
    table = Table(title=f"archlab zoo — MACs counted by fvcore at 1x3x{h}x{w}, CPU, fp32 (G = 1e9)")
    for col in ("model", "params (M)", "paper params (M)", "GMACs", "paper GMACs", "stride", "knobs", "paper"):
        table.add_column(col, justify="right" if col not in ("model", "knobs", "paper") else "left",
                         no_wrap=col != "paper")
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("profiling", total=len(names))
            for name in names:
                progress.update(task, description=f"profiling {name}")
                entry = model_entry(name)
                spec = archlab.get_spec(name)
                model = archlab.build(spec)
                stride = total_stride(spec)
                pub = entry.published
                gmacs = "—"
                if not args.no_macs:
                    size = (1, spec.in_channels, h, w)
                    archlab.graph.check_input_size(spec, size)
                    gmacs = f"{fvcore_macs(model, size) / 1e9:.2f}"
                table.add_row(name, f"{count_params(model) / 1e6:.3f}",
                              f"{pub['params_M']:.2f}" if "params_M" in pub else "—", gmacs,
                              _published_compute(pub),
                              str(stride), ", ".join(knobs(spec)), entry.paper)
                progress.advance(task)
    except archlab.SpecError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(table)
    console.print("params: every parameter tensor, 19 classes. GMACs: fvcore's count (convs, matmuls, linear "
                  "layers; BN one per element; bilinear upsampling four per output element). Paper columns: "
                  "the figures each paper published, in its own units (see docs/architecture.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
