"""A study's report files: table.md, table.tex (the same table in LaTeX), pareto.png (MACs and latency against mIoU), breakdown.png, qualitative.png."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from archlab.study.definition import Study
from archlab.study.jobs import slug
from archlab.study.latex import latex_table
from archlab.study.table import markdown_table


def write_reports(study: Study, frame: pd.DataFrame, out: Path, *, command: str, elapsed_s: float | None = None,
                  qualitative: bool = True) -> list[Path]:
    """Write every report file that the results support; returns the paths written."""
    from archlab.report.breakdown import breakdown_plot
    from archlab.report.pareto import pareto_plot

    out = Path(out)
    written = []
    (out / "table.md").write_text(markdown_table(study, frame, command=command, elapsed_s=elapsed_s))
    written.append(out / "table.md")
    (out / "table.tex").write_text(latex_table(study, frame, command=command))
    written.append(out / "table.tex")
    first = frame.iloc[0]
    size, device = first.get("input_size", "?"), first.get("device_name", "?")
    trained = "miou" in frame and frame["miou"].notna().any()
    if trained:
        ok = frame[frame.get("status", "ok") == "ok"] if "status" in frame else frame
        proxy = (f"proxy mIoU: {first.get('miou_dataset')} {first.get('miou_split')} at {first.get('miou_size')}, "
                 f"{int(first.get('train_steps', 0))} steps x {int(first.get('train_batch', 0))}")
        if "miou_seeds" in ok and ok["miou_seeds"].notna().any():
            proxy += f", mean of {int(ok['miou_seeds'].max())} seeds with its 95% interval"
            if "miou_delta_resolved" in ok and not ok["miou_delta_resolved"].isin([True, "True"]).any():
                proxy += "; no row's difference to the baseline is resolved, so the front orders means within seed noise"
        reference = None
        if "published_gmacs" in ok and "published_miou_pct" in ok:
            pub = ok.dropna(subset=["published_gmacs", "published_miou_pct"])
            if len(pub):
                reference = pd.DataFrame({"variant": pub["variant"], "macs_fvcore": pub["published_gmacs"] * 1e9,
                                          "miou": pub["published_miou_pct"] / 100})
        sources = "; ".join(sorted(set(ok["published_source"].dropna()))) if "published_source" in ok else ""
        pareto_plot(ok, "macs_fvcore", "miou", out / "pareto.png", label="variant", reference=reference,
                    reference_label=(f"published ({sources})" if sources and "; " not in sources
                                     else "published (each row's own paper; see table.md)"),
                    reference_twin_y="published mIoU (%), paper's dataset" if reference is not None else None,
                    title=f"{study.title}: MACs vs proxy mIoU",
                    notes=f"MACs: fvcore, {size}. {proxy}. Published points: the paper's GMACs and mIoU "
                          f"(right axis), other data and protocol.")
        written.append(out / "pareto.png")
        if "latency_ms_median" in ok and ok["latency_ms_median"].notna().any():
            pareto_plot(ok, "latency_ms_median", "miou", out / "pareto_latency.png", label="variant",
                        title=f"{study.title}: latency vs proxy mIoU",
                        notes=f"Latency: median, batch 1, fp32, {size} on {device}. {proxy}.")
            written.append(out / "pareto_latency.png")
    per_node = {}
    for _, row in frame.iterrows():
        path = out / "breakdown" / f"{slug(row['variant'])}.csv"
        if path.is_file():
            per_node[row["variant"]] = pd.read_csv(path)
    if per_node:
        breakdown_plot(per_node, out / "breakdown.png", title=f"{study.title}: per-node MACs and latency",
                       notes=f"MACs counted at {size}; latency = each node's share (forward hooks) of the "
                             f"median forward on {device}.")
        written.append(out / "breakdown.png")
    if trained and qualitative:
        path = _qualitative(study, frame, out / "qualitative.png")
        if path:
            written.append(path)
    return written


def _qualitative(study: Study, frame: pd.DataFrame, path: Path, show: int = 3):
    """Input, ground truth and every trained variant's prediction on the first val images."""
    from archlab.data import get_dataset
    from archlab.evaluate import load_model
    from archlab.report.qualitative import predict, qualitative_figure
    from archlab.train import checkpoint as ckpt
    from archlab.train.config import TrainConfig

    predictions, rows, config = {}, None, None
    for _, row in frame.iterrows():
        run = Path(str(row.get("train_run", "")))
        if not (run / "checkpoint.pt").is_file():
            continue
        state = ckpt.load(run / "checkpoint.pt")
        config = TrainConfig.from_dict(state["config"])
        dataset = get_dataset(config.data, config.eval_split, root=config.data_root, size=config.size,
                              seed=config.data_seed)
        rows = predict(load_model(state), dataset, range(show), config.size)
        seed = f", seed {int(config.seed)} shown" if not pd.isna(row.get("miou_seeds", float("nan"))) else ""
        predictions[f"{row['variant']} ({100 * row['miou']:.1f}% mean{seed})"] = [r["prediction"] for r in rows]
    if not predictions:
        return None
    return qualitative_figure([r["image"] for r in rows], [r["label"] for r in rows], predictions, dataset.palette,
                              dataset.class_names, path,
                              title=f"{study.title}: {config.data} {config.eval_split}, {config.size[0]}x"
                                    f"{config.size[1]} (proxy training)")
