"""Render profile records: a terminal table (rich) and a generated markdown report."""
from __future__ import annotations

import datetime
from pathlib import Path

from archlab.profile.counters import COUNT_COLUMNS, COUNTERS_BY_COLUMN

G = 1e9


def _num(record: dict, key: str, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    value = record.get(key)
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return "—"
    return fmt.format(float(value) / scale)


def deploy_label(record: dict) -> str:
    """How the measured network ran: ``off``, the eager options on (``fuse-bn+channels-last``), or the
    runtime (``onnxruntime 1.32.0``)."""
    backend = record.get("backend")
    if isinstance(backend, str) and backend not in ("", "eager"):
        return f"{backend} {record.get('backend_version', '')}".strip()
    on = [name for key, name in (("fuse_bn", "fuse-bn"), ("channels_last", "channels-last"), ("compile", "compile"))
          if str(record.get(key)) in ("True", "true", "1")]
    return "+".join(on) or "off"


def fastest(records: list[dict]) -> dict[str, str]:
    """Per (model, input size): the fastest way it ran in these records, with its speed-up over the plain
    eager network measured in the same run."""
    best, plain = {}, {}
    for r in records:
        if r.get("latency_ms_median") in (None, ""):
            continue
        key, ms = (r["model"], r["input_size"]), float(r["latency_ms_median"])
        if deploy_label(r) == "off" and r.get("dtype") == "fp32":
            plain[key] = ms
        if key not in best or ms < best[key][1]:
            best[key] = (deploy_label(r), ms)
    return {f"{model} ({size})": label + (f", {plain[(model, size)] / ms:.2f}× the plain eager network"
                                          if (model, size) in plain else "")
            for (model, size), (label, ms) in best.items()}


def _latency(record: dict) -> str:
    if record.get("latency_ms_median") in (None, ""):
        return "—"
    flag = " ⚠" if str(record.get("latency_noisy")) in ("True", "true") else ""
    return f"{_num(record, 'latency_ms_median')} ± {_num(record, 'latency_ms_iqr')}{flag}"


def _speedups(records: list[dict]) -> dict[int, str]:
    """Deploy-on vs deploy-off latency ratio for rows of the same model, dtype and size (one run)."""
    base = {}
    for r in records:
        if deploy_label(r) == "off" and r.get("latency_ms_median") not in (None, ""):
            base[(r["model"], r["dtype"], r["input_size"])] = float(r["latency_ms_median"])
    out = {}
    for i, r in enumerate(records):
        b = base.get((r["model"], r["dtype"], r["input_size"]))
        if b and deploy_label(r) != "off" and r.get("latency_ms_median") not in (None, ""):
            out[i] = f"{b / float(r['latency_ms_median']):.2f}×"
    return out


# The terminal and markdown tables' columns: (header, record -> cell text); G = 1e9 MACs or FLOPs.
COLUMNS = [
    ("model", lambda r: str(r["model"])),
    ("dtype", lambda r: str(r["dtype"])),
    ("deploy", deploy_label),
    ("params (M)", lambda r: _num(r, "params", 1e6, "{:.3f}")),
    *((f"G{counter.unit} {counter.name}", lambda r, column=counter.column: _num(r, column, G))
      for counter in COUNTERS_BY_COLUMN),  # "GMACs fvcore", ..., "GFLOPs torch"
    ("GMACs reconciled", lambda r: _num(r, "macs_reconciled", G)),
    ("latency ms (median ± IQR)", _latency),
    ("FPS", lambda r: _num(r, "fps", 1, "{:.1f}")),
    ("peak mem (MB)", lambda r: _num(r, "peak_mem_mb", 1, "{:.0f}")),
    ("achieved GFLOP/s", lambda r: _num(r, "achieved_gflops", 1, "{:.1f}")),
    ("% of peak", lambda r: _num(r, "peak_fraction", 0.01, "{:.1f}")),
]


def print_records(console, records: list[dict]) -> None:
    from rich.table import Table

    speedups = _speedups(records)
    table = Table(title="archlab profile")
    for name, _ in COLUMNS:
        table.add_column(name, justify="left" if name in ("model", "dtype", "deploy") else "right", no_wrap=True)
    if speedups:
        table.add_column("deploy speed-up", justify="right")
    for i, r in enumerate(records):
        cells = [fn(r) for _, fn in COLUMNS] + ([speedups.get(i, "")] if speedups else [])
        table.add_row(*cells)
    console.print(table)
    if records:
        r = records[0]
        console.print(f"input {r['input_size']} on {r['device']} ({r['device_name']}); counts per image at batch 1, "
                      f"fp32, BN unfolded. {settings_note(r)}")


def settings_note(r: dict) -> str:
    if r.get("latency_ms_median") in (None, ""):
        return "Latency not measured."
    return (f"Latency: {r.get('latency_warmup')} warm-up then {r.get('latency_runs')} timed runs under "
            f"torch.inference_mode(), median and interquartile range; {r.get('cpu_threads')} CPU threads; "
            f"⚠ marks IQR/median > 10%.")


def print_breakdown(console, record: dict, table) -> None:
    """Print the per-node table of one profile (``ProfileResult.per_node``) as a rich table: params and
    every counter's column as integers (MACs or FLOPs, per image), the latency share as a percentage,
    latency in ms; then each node's ``counters_note``. Returns nothing."""
    from rich.table import Table

    t = Table(title=f"{record['model']} per node ({record['input_size']}, {deploy_label(record)})")
    cols = [c for c in ("block", "params", *COUNT_COLUMNS, "macs_reconciled", "latency_share", "latency_ms")
            if c in table.columns]
    t.add_column("node")
    for c in cols:
        t.add_column(c, justify="right" if c != "block" else "left")
    for node, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append(f"{v:.1%}" if c == "latency_share" else f"{v:.2f}" if c == "latency_ms"
                         else str(v) if c == "block" else f"{int(v):,}")
        t.add_row(str(node), *cells)
    console.print(t)
    if "counters_note" in table.columns:
        for node, note in table["counters_note"].items():
            if note:
                console.print(f"  [bold]{node}[/bold]: {note}")


def write_markdown(path: Path, records: list[dict], argv: list[str]) -> None:
    """A generated report: the command, the machine, the method, then the table."""
    speedups = _speedups(records)
    r0 = records[0] if records else {}
    lines = [
        "# archlab profile",
        "",
        f"Generated by `python -m archlab.profile {' '.join(argv)}` on "
        f"{datetime.date.today().isoformat()}; do not edit by hand.",
        "",
        f"- Device: {r0.get('device')} — {r0.get('device_name')}; torch {r0.get('torch_version')}; "
        f"{r0.get('cpu_threads', '—')} CPU threads for timing.",
        f"- Input: {r0.get('input_size')} (N×C×H×W). Counts are per image (batch 1, fp32, BN unfolded): "
        "MACs from fvcore, thop and ptflops (its 'pytorch' backend, the papers' counter), FLOPs from "
        "torch.utils.flop_counter; the reconciled figure follows "
        f"the rule `{r0.get('macs_rule', '—')}` (docs/architecture.md).",
        f"- {settings_note(r0)}",
        "- deploy: off = the model as built; fuse-bn = BatchNorm folded into the preceding conv; "
        "channels-last = NHWC memory format; a runtime name (onnxruntime, openvino) = the fp32 network exported "
        "to ONNX at this input size and run there with the same thread count, its output checked against "
        "eager PyTorch (archlab.runtimes). The deploy speed-up is off-latency / this row's latency for the same "
        "model, measured in the same run.",
        f"- Peak memory: {r0.get('peak_mem_method', '—')}.",
        f"- Roofline: this device's measured peak {_num(r0, 'device_peak_gflops', 1, '{:.1f}')} GFLOP/s "
        f"and {_num(r0, 'device_bandwidth_gbs', 1, '{:.1f}')} GB/s ({r0.get('device_peak_method', '—')}); achieved "
        "GFLOP/s = 2 × reconciled MACs × batch / median latency.",
        "",
        "| " + " | ".join([n for n, _ in COLUMNS] + ["deploy speed-up"]) + " |",
        "|" + "|".join("---" for _ in range(len(COLUMNS) + 1)) + "|",
    ]
    for i, r in enumerate(records):
        lines.append("| " + " | ".join([fn(r) for _, fn in COLUMNS] + [speedups.get(i, "")]) + " |")
    lines.append("")
    if len({deploy_label(r) for r in records}) > 1:
        lines += ["Fastest per model in this run: " + "; ".join(f"{m}: {how}" for m, how in fastest(records).items())
                  + ".", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
