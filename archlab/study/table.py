"""The paper-style table of a study: measured columns beside published ones, units and settings below."""
from __future__ import annotations

import math

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


def _latency_note(study: Study, f: pd.DataFrame, first, size, device, threads) -> str:
    rounds = first.get("latency_rounds", first.get("latency_runs", study.latency_runs))
    per_round = first.get("latency_runs_per_round", 1)
    warmup = first.get("latency_warmup", study.latency_warmup)
    rounds, per_round, warmup = (int(v) if v == v else v for v in (rounds, per_round, warmup))
    allocator = f", {first['cpu_allocator']}" if isinstance(first.get("cpu_allocator"), str) else ""
    text = (f"- **Latency**: every variant timed in the same {rounds} interleaved rounds ({per_round} forward(s) "
            f"per variant per round, the order rotated and reversed from round to round, after {warmup} warm-up "
            f"forward(s) each); latency = median of a variant's {rounds * per_round} timed forwards, batch 1, fp32, "
            f"inference mode, input {size}, on {device}"
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


def _accuracy_notes(study: Study, f: pd.DataFrame, first, base) -> list[str]:
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
    if base is not None and "miou_delta" in f:
        others = f.drop(index=base)
        resolved = [r["variant"] for _, r in others.iterrows() if r.get("miou_delta_resolved") in (True, "True")]
        unresolved = [r["variant"] for _, r in others.iterrows() if r.get("miou_delta_resolved") not in (True, "True")]
        baseline = f.loc[base, "variant"]
        if n < 2:
            out.append(f"- **Resolved**: nothing: with one seed per variant no difference has an interval.")
        elif not resolved:
            out.append(f"- **Resolved**: none. At this budget no variant's mIoU differs from {baseline}'s by more "
                       f"than seed noise: the table cannot order these rows by accuracy.")
        else:
            out.append(f"- **Resolved**: this budget orders {', '.join(resolved)} against {baseline} "
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


def markdown_table(study: Study, frame: pd.DataFrame, *, command: str, elapsed_s: float | None = None) -> str:
    """Render ``frame`` (the study's results) as the markdown report ``table.md``."""
    f = frame.reset_index(drop=True)
    size = f["input_size"].iloc[0] if "input_size" in f and len(f) else "?"
    device = f["device_name"].iloc[0] if "device_name" in f and len(f) else "?"
    base = f.index[f["variant"] == study.baseline][0] if study.baseline in set(f["variant"]) else None
    params_m = _col(f, "params") / 1e6
    gmacs = _col(f, "macs_fvcore") / 1e9
    fps = _col(f, "fps")
    pub_fps = _col(f, "published_fps")
    trained = "miou" in f and f["miou"].notna().any()
    has = {k: f"published_{k}" in f and f[f"published_{k}"].notna().any() for k in ("gmacs", "params_M", "fps",
                                                                                  "miou_pct")}
    header = ["variant", "GMACs (fvcore)"]
    if has["gmacs"]:
        header.append("paper GMACs")
    header += ["params (M)"]
    if has["params_M"]:
        header.append("paper params (M)")
    if base is not None:
        header.append("Δp (M)")
        if has["params_M"]:
            header.append("paper Δp (M)")
    header += ["latency (ms)", "FPS"]
    if base is not None:
        header.append("FPS ÷ baseline")
    if has["fps"]:
        header.append("paper FPS")
        if base is not None:
            header.append("paper FPS ÷ baseline")
    if trained:
        header.append("proxy mIoU (%)")
        if base is not None and "miou_delta" in f:
            header.append("Δ mIoU vs baseline (pts)")
        if "scale_flags" in f:
            header.append("proxy scale")
    if has["miou_pct"]:
        header.append("paper mIoU (%)")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for i, row in f.iterrows():
        cells = [str(row["variant"]), _num(gmacs[i], ".2f")]
        if has["gmacs"]:
            cells.append(_num(row.get("published_gmacs"), ".1f"))
        cells.append(_num(params_m[i], ".3f"))
        if has["params_M"]:
            cells.append(_num(row.get("published_params_M"), ".2f"))
        if base is not None:
            cells.append(_num(params_m[i] - params_m[base], "+.3f"))
            if has["params_M"]:
                pub = _col(f, "published_params_M")
                cells.append(_num(pub[i] - pub[base], "+.2f"))
        cells += [_num(row.get("latency_ms_median"), ".1f"), _num(fps[i], ".2f")]
        if base is not None:
            cells.append(_fps_ratio(row, fps[i] / fps[base]))
        if has["fps"]:
            cells.append(_num(pub_fps[i], ".1f"))
            if base is not None:
                cells.append(_num(pub_fps[i] / pub_fps[base], ".2f"))
        if trained:
            cells.append(_miou_cell(row))
            if base is not None and "miou_delta" in f:
                cells.append("(baseline)" if i == base else _delta_cell(row))
            if "scale_flags" in f:
                cells.append("⚑ " + ", ".join(_flagged_nodes(row)) if _flagged_nodes(row) else "ok")
        if has["miou_pct"]:
            cells.append(_num(row.get("published_miou_pct"), ".1f"))
        lines.append("| " + " | ".join(cells) + " |")

    notes = [f"# {study.title}", "", f"Generated by `{command}`; do not edit by hand.", ""]
    if study.description:
        notes += [study.description, ""]
    notes += lines + [""]
    first = f.iloc[0] if len(f) else {}
    threads = first.get("cpu_threads") if len(f) else None
    threads = None if threads is None or (isinstance(threads, float) and math.isnan(threads)) else int(threads)
    notes.append(f"- **Counts**: parameters; GMACs = multiply-accumulates counted by fvcore per image at batch 1, "
                 f"input {size} (one MAC = one multiply-add; FLOPs would be twice). Device-independent.")
    if "latency_ms_median" in f:
        notes.append(_latency_note(study, f, first, size, device, threads))
    if trained:
        notes += _accuracy_notes(study, f, first, base)
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
