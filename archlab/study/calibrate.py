"""``python -m archlab.study NAME --calibrate``: which training budget can order the variants?

Every variant is trained with at least two seeds at each budget of a ladder (the study's
``calibration`` rungs, else half, once and twice its steps). Per budget the report gives:

- **seed std**: the seed-to-seed standard deviation of one variant's mIoU, pooled over variants;
- **spread**: the standard deviation of the variants' mean mIoU (what the study tries to resolve);
- **τ seeds**: Kendall's τ between the variant rankings of two seeds, averaged over seed pairs;
- **τ vs largest**: τ between this budget's ranking (mean over seeds) and the largest budget's;
- **wall time**: training plus evaluation, summed over the budget's trainings, on this machine.

A budget *agrees* when τ seeds ≥ ``TAU_AGREE`` and τ vs largest ≥ ``TAU_AGREE``; the report names
the cheapest budget that agrees, or says that none in the ladder does. The trainings are the
study's own (:mod:`archlab.study.seeds`, same ``seeds.csv``), so the rung equal to the study's
budget is trained once for both. Writes ``calibration.md``, ``calibration.csv`` and
``calibration.png`` into the study's report directory.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from archlab.files import atomic_write, atomic_write_csv
from archlab.stats import LEVEL, kendall_tau, mean_pairwise_tau, t_interval
from archlab.study.definition import Study
from archlab.study.seeds import SEEDS_FILE, SeedResults, budget_label, train_seeds

#: Rankings agree when Kendall's τ reaches this value (the issue's and the usual "strong agreement").
TAU_AGREE = 0.8
MIN_SEEDS = 2


def ladder(study: Study) -> list[dict]:
    """The budgets to compare, as TrainConfig overrides on top of the study's ``train``."""
    if study.calibration:
        return [dict(r) for r in study.calibration]
    from archlab.train import TrainConfig

    steps = TrainConfig(**study.train).steps
    return [{"steps": max(1, steps // 2)}, {"steps": steps}, {"steps": 2 * steps}]


def _cost(config) -> float:
    """Pixels one training processes: steps x batch x H x W."""
    return config.steps * config.batch * config.size[0] * config.size[1]


def calibrate(study: Study, settings, *, out: Path, runs_dir: Path, force: bool = False,
              progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train the ladder and return (per-budget summary, per-variant per-budget mIoU)."""
    from archlab.study.runner import StageProgress, _check_sizes
    from archlab.train import TrainConfig

    study.check()
    seeds = list(range(max(MIN_SEEDS, settings.seeds or MIN_SEEDS)))
    configs = [TrainConfig(**{**study.train, **settings.budget, **rung, "device": settings.device})
               for rung in ladder(study)]
    configs.sort(key=_cost)
    specs = {v.name: study.spec(v) for v in study.variants}
    order = [v.name for v in study.variants]
    for config in configs:
        _check_sizes(study, specs, tuple(settings.size or study.size), config.size)
    store = SeedResults(Path(out) / SEEDS_FILE, fresh=False)
    per_budget = []
    with StageProgress(progress, len(configs) * len(seeds) * len(order), f"{study.name} calibration") as bar:
        for i, config in enumerate(configs, start=1):
            rows = train_seeds(specs, order, config, seeds, store, Path(runs_dir), threads=settings.threads,
                               force=force, bar=bar, label=f"budget {i}/{len(configs)} ({budget_label(config)}) ")
            per_budget.append((config, rows))
    return summarise(per_budget, order, seeds)


def summarise(per_budget, order, seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per budget: seed std, spread, τ between seeds and against the largest budget, wall time."""
    def miou(row):
        ok = row.get("status") == "ok" and isinstance(row.get("miou"), (int, float))
        return float(row["miou"]) if ok else math.nan

    means, summary, variants = {}, [], []
    for config, rows in per_budget:
        label = budget_label(config)
        table = {v: [miou(rows[(v, s)]) for s in seeds] for v in order}
        means[label] = [float(np.nanmean(table[v])) if not all(map(math.isnan, table[v])) else math.nan
                        for v in order]
        for v in order:
            interval = t_interval(table[v])
            variants.append({"budget": label, "variant": v, "miou": interval.mean, "miou_ci_low": interval.low,
                             "miou_ci_high": interval.high, "seeds": interval.n, "miou_by_seed": list(table[v])})
        stds = [np.nanstd(table[v], ddof=1) for v in order if sum(not math.isnan(x) for x in table[v]) >= 2]
        seconds = sum(float(r.get("train_time_s") or 0) + float(r.get("eval_time_s") or 0) for r in rows.values())
        summary.append({"budget": label, "steps": config.steps, "batch": config.batch,
                        "size": f"{config.size[0]}x{config.size[1]}", "seeds": len(seeds),
                        "mpx_per_training": _cost(config) / 1e6,
                        "seed_std": float(np.sqrt(np.mean(np.square(stds)))) if stds else math.nan,
                        "spread": float(np.nanstd(means[label], ddof=1)) if len(order) > 1 else math.nan,
                        "tau_seeds": mean_pairwise_tau([[table[v][k] for v in order] for k in range(len(seeds))]),
                        "wall_time_s": seconds,
                        "diverged": sum(1 for r in rows.values() if r.get("status") != "ok")})
    largest = summary[-1]["budget"]
    for row in summary:
        row["tau_vs_largest"] = 1.0 if row["budget"] == largest else kendall_tau(means[row["budget"]], means[largest])
        row["agrees"] = bool(row["tau_seeds"] >= TAU_AGREE and row["tau_vs_largest"] >= TAU_AGREE)
    frame = pd.DataFrame(summary)[["budget", "steps", "batch", "size", "seeds", "mpx_per_training", "seed_std",
                                   "spread", "tau_seeds", "tau_vs_largest", "agrees", "wall_time_s", "diverged"]]
    return frame, pd.DataFrame(variants)


def cheapest_agreeing(summary: pd.DataFrame) -> str | None:
    agreeing = summary[summary["agrees"]]
    return None if agreeing.empty else str(agreeing.sort_values("mpx_per_training").iloc[0]["budget"])


def verdict(summary: pd.DataFrame) -> str:
    pick = cheapest_agreeing(summary)
    if pick is not None:
        return (f"The cheapest budget whose rankings agree (τ between seeds and against the largest budget both "
                f"≥ {TAU_AGREE}) is **{pick}**.")
    best = summary.sort_values("tau_seeds", ascending=False).iloc[0]
    return (f"**No budget in this ladder agrees**: at none do two seeds rank the variants alike and match the "
            f"largest budget (τ ≥ {TAU_AGREE}); the best seed agreement is τ = {best['tau_seeds']:.2f} at "
            f"{best['budget']}. At these budgets the seed noise (seed std) is comparable to the differences "
            f"between variants (spread), so a single training cannot order them; only differences whose paired "
            f"interval excludes zero can be read from the study's table.")


def write_calibration(study: Study, summary: pd.DataFrame, variants: pd.DataFrame, out: Path, *, command: str,
                      device: str) -> list[Path]:
    out = Path(out)
    atomic_write_csv(out / "calibration.csv", summary)
    lines = [f"# {study.title}: budget calibration", "", f"Generated by `{command}`; do not edit by hand.", "",
             f"Every variant trained with {int(summary['seeds'].iloc[0])} seeds (0..{int(summary['seeds'].iloc[0]) - 1}, "
             f"paired: the same data order and augmentation for every variant) at each budget, on "
             f"{study.train.get('data', 'synthstreets')}, on {device}. mIoU in %, evaluated as the study's "
             f"proxy (its dataset, split and image count).", "",
             "| budget | cost (Mpx per training) | seed std (pts) | spread between variants (pts) | τ seeds | "
             "τ vs largest | agrees | wall time (min) | diverged |", "|---|---:|---:|---:|---:|---:|:---:|---:|---:|"]
    for _, r in summary.iterrows():
        lines.append(f"| {r['budget']} | {r['mpx_per_training']:.0f} | {100 * r['seed_std']:.2f} | "
                     f"{100 * r['spread']:.2f} | {r['tau_seeds']:.2f} | "
                     f"{r['tau_vs_largest']:.2f} | {'yes' if r['agrees'] else 'no'} | {r['wall_time_s'] / 60:.1f} | "
                     f"{int(r['diverged'])} |")
    lines += ["", verdict(summary), "", f"Per variant, mean mIoU (%) ± half-width of the {LEVEL:.0%} Student-t "
              f"interval over seeds:", ""]
    budgets = list(summary["budget"])
    lines += ["| variant | " + " | ".join(budgets) + " |", "|---|" + "---:|" * len(budgets)]
    for v in dict.fromkeys(variants["variant"]):
        cells = []
        for b in budgets:
            r = variants[(variants["variant"] == v) & (variants["budget"] == b)].iloc[0]
            half = (r["miou_ci_high"] - r["miou_ci_low"]) / 2
            cells.append("–" if math.isnan(r["miou"]) else f"{100 * r['miou']:.1f} ± {100 * half:.1f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", "- **seed std**: standard deviation of one variant's mIoU over seeds, pooled (root mean square) "
              "over variants. **spread**: standard deviation of the variants' mean mIoU. **τ seeds**: Kendall τ-b "
              "between two seeds' rankings of the variants, mean over seed pairs. **τ vs largest**: τ between this "
              "budget's mean ranking and the largest budget's. **cost**: pixels one training processes (steps x batch "
              "x H x W), the load-independent measure the cheapest budget is chosen by. **wall time**: training and "
              "evaluation summed over the budget's trainings as recorded (the study's thread count); it grows with "
              "whatever else ran on the machine meanwhile, so compare costs, not wall times, across budgets."]
    atomic_write(out / "calibration.md", "\n".join(lines) + "\n")
    _plot(study, summary, variants, out / "calibration.png", device)
    return [out / "calibration.md", out / "calibration.csv", out / "calibration.png"]


def _plot(study, summary, variants, path: Path, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    cost = summary["mpx_per_training"]
    left.plot(cost, summary["tau_seeds"], "o-", label="τ between seeds")
    left.plot(cost, summary["tau_vs_largest"], "s--", label="τ vs largest budget")
    left.axhline(TAU_AGREE, color="grey", lw=0.8, ls=":", label=f"agreement ({TAU_AGREE})")
    for m, b, t in zip(cost, summary["budget"], summary["tau_seeds"]):
        left.annotate(b, (m, t), textcoords="offset points", xytext=(4, 6), fontsize=7)
    if cost.max() > 8 * cost.min():
        left.set_xscale("log")
    left.margins(x=0.15)
    left.set(xlabel="cost of one training (million pixels processed: steps x batch x H x W)", ylabel="Kendall τ",
             ylim=(-1.05, 1.05), title="Do the rankings agree?")
    left.legend(fontsize=8, loc="lower right")
    budgets = list(summary["budget"])
    x = np.arange(len(budgets))
    names = list(dict.fromkeys(variants["variant"]))
    for k, v in enumerate(names):
        sub = variants[variants["variant"] == v].set_index("budget").loc[budgets]
        offset = (k - (len(names) - 1) / 2) * 0.06
        line, = right.plot(x + offset, sub["miou"] * 100, "o-", ms=5, label=v)
        for j, values in enumerate(sub["miou_by_seed"]):
            right.plot([x[j] + offset] * len(values), np.asarray(values, float) * 100, "_", ms=8, mew=1.5,
                       color=line.get_color(), alpha=0.8)
    right.set_xticks(x, budgets, fontsize=7)
    right.set(ylabel="proxy mIoU (%): mean (dot) and each seed (dash)", title="mIoU per variant and budget")
    right.legend(fontsize=7, ncol=2)
    fig.suptitle(f"{study.title}: budget calibration", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
