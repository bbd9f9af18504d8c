"""The paper-style table of a study: measured columns beside published ones, units and settings below."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from archlab.study.definition import Study


def _num(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series([float("nan")] * len(frame), index=frame.index)


def within(measured, published, tolerance: float) -> bool | None:
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (measured, published)) or not published:
        return None
    return abs(measured / published - 1) <= tolerance


def _fps_ratio(row, fallback: float) -> str:
    """The paired FPS ratio with its 25th-75th percentile over rounds, or the plain ratio of FPS."""
    median = row.get("fps_ratio")
    if median is None or (isinstance(median, float) and math.isnan(median)):
        return _num(fallback, ".2f")
    return f"{median:.2f} ({row['fps_ratio_p25']:.2f}–{row['fps_ratio_p75']:.2f})"


#: A paired ratio whose interquartile range over rounds exceeds this share of its median is flagged.
RATIO_SPREAD_LIMIT = 0.10


def _runtime_text(first) -> str:
    """``"in onnxruntime 1.32.0 (ONNX opset 17, output within 3e-08 of eager), "`` for a runtime; empty for eager."""
    backend = first.get("backend")
    if not isinstance(backend, str) or backend in ("", "eager"):
        return ""
    return (f"in {backend} {first.get('backend_version', '')} (exported to ONNX opset {first.get('opset')}, output "
            f"within {float(first.get('max_abs_error', float('nan'))):.1g} of eager PyTorch), ")


def _latency_note(study: Study, f: pd.DataFrame, first, size, device, threads) -> str:
    rounds = first.get("latency_rounds", first.get("latency_runs", study.latency_runs))
    per_round = first.get("latency_runs_per_round", 1)
    warmup = first.get("latency_warmup", study.latency_warmup)
    rounds, per_round, warmup = (int(v) if v == v else v for v in (rounds, per_round, warmup))
    allocator = f", {first['cpu_allocator']}" if isinstance(first.get("cpu_allocator"), str) else ""
    text = (f"- **Latency**: every variant timed in the same {rounds} interleaved rounds ({per_round} forward(s) "
            f"per variant per round, the order rotated and reversed from round to round, after {warmup} warm-up "
            f"forward(s) each); latency = median of a variant's {rounds * per_round} timed forwards, batch 1, fp32, "
            f"inference mode, input {size}, {_runtime_text(first)}on {device}"
            f"{f' ({threads} threads)' if threads and str(first.get('device', 'cpu')) == 'cpu' else ''}, "
            f"torch {first.get('torch_version', '?')}"
            f"{allocator}; "
            f"FPS = 1000 / latency. **FPS ÷ baseline** is the median over rounds of the ratio taken within each "
            f"round (the baseline's time over the variant's, both measured back to back), with its 25th–75th "
            f"percentile in brackets, so load on the machine cancels. The paper's FPS are on its own GPU: compare "
            f"ratios, not FPS.")
    if "fps_ratio" in f:
        spread = (f["fps_ratio_p75"] - f["fps_ratio_p25"]) / f["fps_ratio"]
        wide = [v for v, s in zip(f["variant"], spread) if s > RATIO_SPREAD_LIMIT]
        text += (f" Ratio spread over rounds (IQR / median): at most {spread.max():.1%}"
                 + (f"; above {RATIO_SPREAD_LIMIT:.0%} for {', '.join(wide)}: those ratios are not reliable."
                    if wide else "."))
    noisy = [r["variant"] for _, r in f.iterrows() if r.get("latency_noisy") in (True, "True")]
    if noisy:
        text += f"\n  Noisy absolute timings (IQR above 10% of the median): {', '.join(noisy)}."
    return text


def _is_nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _miou_cell(row) -> str:
    """``31.2 ± 0.8`` (mean over seeds ± half-width of its 95% interval), or why there is none."""
    if row.get("status", "ok") != "ok" or _is_nan(row.get("miou")):
        return f"failed: {row.get('status')}"
    text = f"{100 * row['miou']:.1f}"
    low, high = row.get("miou_ci_low"), row.get("miou_ci_high")
    if not _is_nan(low) and not _is_nan(high):
        text += f" ± {100 * (high - low) / 2:.1f}"
    failed = row.get("seeds_failed")
    return text + (" (some seeds failed)" if isinstance(failed, str) and failed else "")


def _delta_cell(row) -> str:
    """Paired difference to the baseline: ``+1.4 ± 0.9 ✓`` when its interval excludes 0."""
    delta, low, high = row.get("miou_delta"), row.get("miou_delta_low"), row.get("miou_delta_high")
    if _is_nan(delta):
        return "–"
    if _is_nan(low) or _is_nan(high):
        return f"{100 * delta:+.1f} (one seed)"
    mark = " ✓" if row.get("miou_delta_resolved") in (True, "True") else ""
    return f"{100 * delta:+.1f} ± {100 * (high - low) / 2:.1f}{mark}"


def _flagged_nodes(row) -> list[str]:
    text = row.get("scale_flags")
    if not isinstance(text, str) or not text:
        return []
    return [item.split(":")[0].split(" (")[0] for item in text.split("; ")]


def _accuracy_notes(study: Study, f: pd.DataFrame, first, table: "_Table") -> list[str]:
    """The proxy mIoU's protocol, which differences this budget resolves, and the scale check."""
    from archlab.stats import LEVEL

    seeds = first.get("train_seeds", first.get("train_seed", 0))
    n = int(first.get("miou_seeds", 1)) if not _is_nan(first.get("miou_seeds")) else 1
    threads = first.get("train_threads")
    out = [f"- **Proxy mIoU**: {first.get('miou_dataset')} {first.get('miou_split')} split, "
           f"{int(first.get('miou_images', 0))} images at {first.get('miou_size')}, after "
           f"{int(first.get('train_steps', 0))} SGD steps of batch {int(first.get('train_batch', 0))} at "
           f"{first.get('train_size')} (lr {first.get('train_lr')}), trained with seeds {seeds} "
           f"({n} per variant{f', {int(threads)} CPU threads' if not _is_nan(threads) else ''}); a short proxy "
           f"training on generated data, not the paper's Cityscapes protocol. Shown: mean over seeds ± half-width "
           f"of the {LEVEL:.0%} Student-t interval (n − 1 degrees of freedom). Seed s of every variant sees the "
           f"same data order, crops and flips, so **Δ mIoU vs baseline** is the mean of the per-seed differences "
           f"with its own paired {LEVEL:.0%} interval; ✓ marks a difference whose interval excludes 0 (resolved)."]
    if table.compared and "miou_delta" in f:
        if n < 2:
            out.append("- **Resolved**: nothing: with one seed per variant no difference has an interval.")
        for b in table.baseline_rows if n >= 2 else ():
            group = [i for i, own in enumerate(table.base_of) if own == b and i != b]
            resolved = [f.loc[i, "variant"] for i in group if f.loc[i].get("miou_delta_resolved") in (True, "True")]
            unresolved = [f.loc[i, "variant"] for i in group if f.loc[i, "variant"] not in resolved]
            baseline = f.loc[b, "variant"]
            label = "- **Resolved**" + (f" (against {baseline})" if len(table.baseline_rows) > 1 else "")
            if not resolved:
                out.append(f"{label}: none. At this budget no variant's mIoU differs from {baseline}'s by more "
                           f"than seed noise: the table cannot order these rows by accuracy.")
            else:
                out.append(f"{label}: this budget orders {', '.join(resolved)} against {baseline} "
                           + (f"(sign of the difference established over {n} seeds); it cannot order "
                              f"{', '.join(unresolved)} against {baseline}." if unresolved else
                              f"(every row; sign established over {n} seeds)."))
    failed = [f"{r['variant']} ({r['seeds_failed']})" for _, r in f.iterrows()
              if isinstance(r.get("seeds_failed"), str) and r.get("seeds_failed")]
    if failed:
        out.append("- **Failed trainings**: " + "; ".join(failed) + ".")
    if "scale_flags" in f:
        flagged = [(r["variant"], r["scale_flags"]) for _, r in f.iterrows()
                   if isinstance(r.get("scale_flags"), str) and r["scale_flags"]]
        checked = first.get("scale_checked_at", "")
        if flagged:
            items = sorted({item for _, text in flagged for item in text.split("; ")})
            out.append(f"- **Scale check** ({checked}): ⚑ marks rows with a block whose reach exceeds its feature "
                       f"map at the training size but not at the measuring size, so the proxy cannot judge it: "
                       + "; ".join(items) + f". Smallest training size with nothing flagged: "
                       f"{first.get('scale_clean_size')}."
                       + (f" {study.scale_note}" if study.scale_note else ""))
        else:
            out.append(f"- **Scale check** ({checked}): no block's dilation or pooling grid exceeds its feature map "
                       f"at the training size where it fits at the measuring size.")
    return out


@dataclass(frozen=True)
class Column:
    """One column of the table: its header, when it is shown, and each row's cell."""

    header: str
    shown: Callable[["_Table"], bool]
    cell: Callable[["_Table", int], str]


class _Table:
    """What the columns read: the frame, each row's baseline row, and which published figures exist."""

    def __init__(self, study: Study, f: pd.DataFrame):
        self.f = f
        names = list(f["variant"])
        self.base_of = [names.index(b) if (b := study.baseline_of(n)) in names else None for n in names]
        self.compared = any(b is not None for b in self.base_of)
        self.baseline_rows = sorted({b for b in self.base_of if b is not None})
        self.params_m, self.gmacs, self.fps = _col(f, "params") / 1e6, _col(f, "macs_fvcore") / 1e9, _col(f, "fps")
        self.trained = "miou" in f and f["miou"].notna().any()
        self.has = {k: f"published_{k}" in f and f[f"published_{k}"].notna().any()
                    for k in ("gmacs", "params_M", "fps", "miou_pct")}

    def row(self, i: int):
        return self.f.iloc[i]

    def against_base(self, i: int, values: pd.Series, fmt: str) -> str:
        b = self.base_of[i]
        return "–" if b is None else _num(values.iloc[i] - values.iloc[b], fmt)


def _scale_cell(t: _Table, i: int) -> str:
    nodes = _flagged_nodes(t.row(i))
    return "⚑ " + ", ".join(nodes) if nodes else "ok"


def _fps_ratio_cell(t: _Table, i: int) -> str:
    b = t.base_of[i]
    return "–" if b is None else _fps_ratio(t.row(i), t.fps.iloc[i] / t.fps.iloc[b])


def _paper_fps_ratio_cell(t: _Table, i: int) -> str:
    b, pub = t.base_of[i], _col(t.f, "published_fps")
    return "–" if b is None else _num(pub.iloc[i] / pub.iloc[b], ".2f")


#: The table's columns, in order (each shown only where it has something to say).
COLUMNS = (
    Column("variant", lambda t: True, lambda t, i: str(t.row(i)["variant"])),
    Column("GMACs (fvcore)", lambda t: True, lambda t, i: _num(t.gmacs.iloc[i], ".2f")),
    Column("paper GMACs", lambda t: t.has["gmacs"], lambda t, i: _num(t.row(i).get("published_gmacs"), ".1f")),
    Column("params (M)", lambda t: True, lambda t, i: _num(t.params_m.iloc[i], ".3f")),
    Column("paper params (M)", lambda t: t.has["params_M"],
           lambda t, i: _num(t.row(i).get("published_params_M"), ".2f")),
    Column("Δp (M)", lambda t: t.compared, lambda t, i: t.against_base(i, t.params_m, "+.3f")),
    Column("paper Δp (M)", lambda t: t.compared and t.has["params_M"],
           lambda t, i: t.against_base(i, _col(t.f, "published_params_M"), "+.2f")),
    Column("latency (ms)", lambda t: True, lambda t, i: _num(t.row(i).get("latency_ms_median"), ".1f")),
    Column("FPS", lambda t: True, lambda t, i: _num(t.fps.iloc[i], ".2f")),
    Column("FPS ÷ baseline", lambda t: t.compared, _fps_ratio_cell),
    Column("paper FPS", lambda t: t.has["fps"], lambda t, i: _num(_col(t.f, "published_fps").iloc[i], ".1f")),
    Column("paper FPS ÷ baseline", lambda t: t.has["fps"] and t.compared, _paper_fps_ratio_cell),
    Column("proxy mIoU (%)", lambda t: t.trained, lambda t, i: _miou_cell(t.row(i))),
    Column("Δ mIoU vs baseline (pts)", lambda t: t.trained and t.compared and "miou_delta" in t.f,
           lambda t, i: "(baseline)" if t.base_of[i] == i else _delta_cell(t.row(i))),
    Column("proxy scale", lambda t: t.trained and "scale_flags" in t.f, _scale_cell),
    Column("paper mIoU (%)", lambda t: t.has["miou_pct"], lambda t, i: _num(t.row(i).get("published_miou_pct"), ".1f")),
)


def markdown_table(study: Study, frame: pd.DataFrame, *, command: str, elapsed_s: float | None = None) -> str:
    """Render ``frame`` (the study's results) as the markdown report ``table.md``."""
    f = frame.reset_index(drop=True)
    size = f["input_size"].iloc[0] if "input_size" in f and len(f) else "?"
    device = f["device_name"].iloc[0] if "device_name" in f and len(f) else "?"
    table = _Table(study, f)
    columns = [c for c in COLUMNS if c.shown(table)]
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    lines += ["| " + " | ".join(c.cell(table, i) for c in columns) + " |" for i in range(len(f))]
    params_m, gmacs, has, trained = table.params_m, table.gmacs, table.has, table.trained

    notes = [f"# {study.title}", "", f"Generated by `{command}`; do not edit by hand.", ""]
    if study.description:
        notes += [study.description, ""]
    notes += lines + [""]
    if len(table.baseline_rows) > 1:
        groups = [f"{f.loc[b, 'variant']} for " + ", ".join(f.loc[i, "variant"] for i, own in enumerate(table.base_of)
                                                             if own == b and i != b) for b in table.baseline_rows]
        notes.append("- **Baselines**: every row is compared with its own network's original: " + "; ".join(groups)
                     + ".")
    first = f.iloc[0] if len(f) else {}
    threads = first.get("cpu_threads") if len(f) else None
    threads = None if threads is None or (isinstance(threads, float) and math.isnan(threads)) else int(threads)
    notes.append(f"- **Counts**: parameters; GMACs = multiply-accumulates counted by fvcore per image at batch 1, "
                 f"input {size} (one MAC = one multiply-add; FLOPs would be twice). Device-independent.")
    if "latency_ms_median" in f:
        notes.append(_latency_note(study, f, first, size, device, threads))
    if trained:
        notes += _accuracy_notes(study, f, first, table)
    if any(has.values()):
        sources = sorted({s for s in _col(f, "published_source").dropna()})
        notes.append(f"- **Published** ({'; '.join(sources)}): "
                     + (study.reference.notes if study.reference and study.reference.notes else
                        "figures as printed in the paper."))
        checks = []
        checks = []
        pub_gmacs = _col(f, "published_gmacs").copy()
        inputs = _col(f, "published_gmacs_input")
        same_input = [str(i) == "nan" or f"1x3x{i}" == str(size) for i in inputs]
        if not all(same_input):
            pub_gmacs[:] = float("nan")
            checks.append(f"GMACs not compared: measured at {size}, the paper counted at 1x3x{inputs.dropna().iloc[0]}")
        for label, measured, published, tol in (("GMACs", gmacs, pub_gmacs, 0.02),
                                                 ("parameters", params_m, _col(f, "published_params_M"), 0.01)):
            verdicts = [within(m, p, tol) for m, p in zip(measured, published)]
            rated = [(v, name) for v, name in zip(verdicts, f["variant"]) if v is not None]
            if rated:
                worst = max(abs(m / p - 1) for m, p in zip(measured, published)
                            if within(m, p, tol) is not None)
                ok = sum(v for v, _ in rated)
                off = [name for v, name in rated if not v]
                checks.append(f"{label} within {tol:.0%} of the paper on {ok}/{len(rated)} rows "
                              f"(largest deviation {worst:.1%}{'; off: ' + ', '.join(off) if off else ''})")
        if checks:
            notes.append("- **Checks**: " + "; ".join(checks) + ".")
    if elapsed_s is not None:
        spent = [f"{_col(f, c).sum() / 60:.1f} min {what}" for c, what in (
            ("profile_time_s", "profiling"), ("train_time_s", "training"), ("eval_time_s", "evaluating"))
            if c in f and _col(f, c).notna().any()]
        notes.append(f"- **Time**: {elapsed_s / 60:.1f} min for this invocation (cached stages reused); recorded per "
                     f"stage over all variants: {', '.join(spent) or 'none'}.")
    notes.append("- Variants: " + "; ".join(f"**{r['variant']}** = {r['base']} + {r['ops']}" for _, r in f.iterrows())
                 + ".")
    return "\n".join(notes) + "\n"
