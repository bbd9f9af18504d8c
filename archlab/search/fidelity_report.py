"""``python -m archlab.search.fidelity_report NAME --out DIR``: does successive halving find the front for less?

Two arms search the space NAME with a trained accuracy (``--objective miou``), one after the
other on this machine, each in its own storage under ``OUT`` (``OUT/full/study.db``,
``OUT/sh/study.db``; checkpoints under ``--runs-dir``):

1. ``full``: every sampled point trains the whole budget B (the space's ``train["steps"]``, or ``--steps``);
2. ``sh``: successive halving (:mod:`archlab.search.fidelity`) with the same sampler seed and the
   same number of sampled points (``--trials``).

It writes ``OUT/report.md``, ``OUT/hypervolume_vs_cpu_hours.csv`` and ``.png`` (both arms in one
plot), ``OUT/front_full.csv``, ``OUT/front_sh.csv`` and ``OUT/fronts.png``. The hypervolume
(:mod:`archlab.search.hypervolume`) counts full-budget trials only, under one normalisation over
both arms' full-budget feasible points and one reference point; it is drawn against the CPU-hours
spent so far, where a trial's CPU time is the wall time of its measurement (profiling, training,
evaluation; a record copied from an identical earlier trial costs nothing) times the torch threads
it ran with. Every file is written atomically and generated from the two studies, and a rerun of
the same command reuses every finished trial (and resumes an interrupted training), so it only
regenerates the files once both arms are complete.

The defaults (40 sampled points per arm, B = search_fassd's 60 steps, eta 3, rungs 7, 21, 60,
brackets of 9, 2 torch threads) take about 26 minutes on the project's 2-core CPU when nothing
else runs: measured there, a training step takes 0.25-0.63 s (0.40 s on average over 12 sampled
points of search_fassd, 128x256, batch 8), profiling 1.2-4.4 s and evaluation about 1 s per
trial, so a full-budget trial costs about 28 s and a bracket of 9 points under successive halving
about 100 s (full arm ~19 min, halving arm ~8 min). Two torch threads are several times slower
while another job uses the cores (its threads and these compete for both cores): run it on an
idle machine, or give --threads 1.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import shlex
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from optuna.trial import TrialState

from archlab import cli
from archlab.devices import available_cores
from archlab.files import atomic_save, atomic_write, atomic_write_csv
from archlab.search import fidelity
from archlab.search.hypervolume import Normalisation, hypervolume_curve

ARMS = {"full": "full budget (every point trains B steps)", "sh": "successive halving"}
COLORS = {"full": "#1f5fa8", "sh": "#c2410c"}


@dataclass(frozen=True)
class ReportSettings:
    """The comparison's choices (the command line's)."""

    trials: int = 40                 # sampled points per arm (see the module docs for the time it takes)
    eta: int | None = None           # None: fidelity's default (3)
    min_steps: int | None = None     # None: ceil(B / eta^2)
    bracket: int | None = None       # None: eta^(rungs - 1)
    steps: int | None = None         # B; None: the space's train steps
    threads: int | None = None       # torch threads of each arm (None: every core here)
    seed: int = 0                    # sampler seed, both arms
    runs_dir: Path | None = None     # checkpoints (default runs/fidelity_report/NAME)
    progress: bool = True

    def resolved_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)


def budget_space(space, settings: ReportSettings):
    """The space with the report's training budget (``--steps``), and the successive-halving schedule
    (checked before any work)."""
    from archlab.train import TrainConfig

    if settings.steps is not None:
        space = replace(space, train={**space.train, "steps": settings.steps})
    steps = TrainConfig(**space.train).steps
    schedule = fidelity.schedule_for("sh", accuracy="miou", max_steps=steps, eta=settings.eta,
                                     min_steps=settings.min_steps, bracket=settings.bracket)
    return space, schedule


def arm_settings(space, out: Path, settings: ReportSettings, arm: str):
    """The :class:`~archlab.search.runner.SearchSettings` of one arm."""
    from archlab.search.runner import SearchSettings

    runs = Path(settings.runs_dir) if settings.runs_dir is not None else Path("runs") / "fidelity_report" / space.name
    sh = arm == "sh"
    return SearchSettings(trials=settings.trials, workers=1, storage=f"sqlite:///{Path(out) / arm / 'study.db'}",
                          objective="miou", device="cpu", threads=settings.resolved_threads(), seed=settings.seed,
                          out=Path(out) / arm, runs_dir=runs / arm, progress=settings.progress,
                          fidelity="sh" if sh else None, eta=settings.eta if sh else None,
                          min_steps=settings.min_steps if sh else None, bracket=settings.bracket if sh else None)


def run_arms(space, out: Path, settings: ReportSettings) -> dict:
    """Run (or resume) both arms, full budget first; returns ``{arm: SearchResult}``."""
    from archlab.search.runner import run_search

    results = {}
    for arm in ARMS:
        if settings.progress:
            print(f"arm {arm}: {ARMS[arm]}", file=sys.stderr, flush=True)
        results[arm] = run_search(space, arm_settings(space, out, settings, arm))
    return results


def load_arm(space, out: Path, settings: ReportSettings, arm: str):
    """``(study, objectives)`` of one arm's storage."""
    from archlab.search.runner import open_search_study
    from archlab.search.storage import resolve_storage

    s = arm_settings(space, out, settings, arm)
    study, _, objectives = open_search_study(space, resolve_storage(s.storage, s.out_dir(space), 1), None, s,
                                             create=False)
    return study, objectives


def arm_frame(study, objectives, arm: str, threads: int) -> pd.DataFrame:
    """One row per finished counted trial of an arm, in the order the trials finished: its figures,
    rung, CPU seconds (measuring wall time x threads; 0 for a copied record) and training steps run."""
    from archlab.search.storage import counted_trials

    trials = [t for t in counted_trials(study.get_trials(deepcopy=False)) if t.state.is_finished()]
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    rows = []
    for t in sorted(trials, key=lambda t: (t.datetime_complete or _dt.datetime.max, t.number)):
        record = t.user_attrs.get("record", {})
        copied = "cached_from" in record or bool(record.get("rung_reused"))
        parent = by_number.get(t.user_attrs.get("promoted_from"))
        below = parent.user_attrs.get("rung_steps", 0) if parent is not None else 0
        ok = t.state == TrialState.COMPLETE
        rows.append({
            "arm": arm, "number": t.number, "state": t.state.name, "label": t.user_attrs.get("label", ""),
            "rung": fidelity.rung_of(t), "rung_steps": t.user_attrs.get("rung_steps", record.get("train_steps")),
            "final": fidelity.is_final(t), "promoted_from": t.user_attrs.get("promoted_from"),
            "feasible": bool(ok and all(v <= 0 for v in t.constraints.values())),
            objectives.metric_column: t.values[0] if ok else math.nan,
            objectives.accuracy_column: t.values[1] if ok else math.nan,
            "params": record.get("params"), "copied": copied,
            "trial_wall_s": 0.0 if copied else float(record.get("eval_time_s", 0.0)),
            "threads": int(record.get("threads") or threads),
            "steps_trained": 0 if copied or not ok else int(record.get("train_steps", 0)) - int(below or 0),
            "datetime_start": t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
            "datetime_complete": t.datetime_complete.isoformat(timespec="seconds") if t.datetime_complete else None})
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["trial_cpu_s"] = frame["trial_wall_s"] * frame["threads"]
        frame["cpu_hours"] = frame["trial_cpu_s"].cumsum() / 3600
    return frame


def with_hypervolume(frames: dict, objectives) -> tuple[pd.DataFrame, Normalisation | None]:
    """Both arms' rows with the hypervolume of each arm's full-budget feasible front after each trial,
    under one normalisation over both arms' full-budget feasible points."""
    x, y = objectives.metric_column, objectives.accuracy_column
    both = pd.concat([f for f in frames.values() if len(f)], ignore_index=True)
    use = both["feasible"] & both["final"] & np.isfinite(both[y].astype(float)) & np.isfinite(both[x].astype(float))
    try:
        norm = Normalisation.over(both.loc[use, x], both.loc[use, y])
    except ValueError:                           # no full-budget feasible point yet
        both["hypervolume"] = 0.0
        return both, None
    parts = []
    for arm in ARMS:
        part = both[both["arm"] == arm].copy()
        keep = use[part.index]
        part["hypervolume"] = hypervolume_curve(np.where(keep, part[x], np.nan), np.where(keep, part[y], np.nan),
                                                norm) if len(part) else []
        parts.append(part)
    return pd.concat(parts, ignore_index=True), norm


def summary(curve: pd.DataFrame, objectives) -> pd.DataFrame:
    """One row per arm: points, trials, full-budget points, steps, CPU-hours, front size and hypervolume,
    and each arm's hypervolume at the CPU-hours the cheaper arm spent in all."""
    from archlab.report.pareto import pareto_mask

    x, y = objectives.metric_column, objectives.accuracy_column
    totals = {arm: float(curve.loc[curve["arm"] == arm, "cpu_hours"].max()) for arm in ARMS
              if (curve["arm"] == arm).any()}
    budget = min(totals.values()) if totals else math.nan
    rows = []
    for arm in ARMS:
        part = curve[curve["arm"] == arm]
        final = part[part["final"] & part["feasible"] & np.isfinite(part[y].astype(float))]
        front = final[pareto_mask(final[x], final[y])] if len(final) else final
        within = part[part["cpu_hours"] <= budget + 1e-12]
        rows.append({"arm": arm, "sampled_points": int((part["rung"] == 0).sum()), "trials": len(part),
                     "full_budget_points": int(part.loc[part["final"] & (part["state"] == "COMPLETE"), "label"]
                                               .nunique()),
                     "steps_trained": int(part["steps_trained"].sum()),
                     "cpu_hours": float(part["cpu_hours"].max()) if len(part) else 0.0,
                     "front_size": int(front["label"].nunique()) if len(front) else 0,
                     "hypervolume": float(part["hypervolume"].iloc[-1]) if len(part) else 0.0,
                     "hypervolume_at_equal_cpu": float(within["hypervolume"].iloc[-1]) if len(within) else 0.0,
                     "equal_cpu_hours": budget})
    return pd.DataFrame(rows)


def fronts(curve: pd.DataFrame, objectives) -> dict:
    """Each arm's final front (full-budget feasible non-dominated trials, one row per point), by cost."""
    from archlab.report.pareto import pareto_mask

    x, y = objectives.metric_column, objectives.accuracy_column
    out = {}
    for arm in ARMS:
        part = curve[(curve["arm"] == arm) & curve["final"] & curve["feasible"] & np.isfinite(curve[y].astype(float))]
        part = part.drop_duplicates("label")
        out[arm] = part[pareto_mask(part[x], part[y])].sort_values(x) if len(part) else part
    return out


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return path


def _figure(notes: str, width: float = 8.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrapped = "\n".join(textwrap.fill(line, 125) for line in notes.splitlines())
    lines = wrapped.count("\n") + 1
    height = 4.4 + 0.15 * lines
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=0.1, right=0.97, top=1 - 0.45 / height, bottom=(0.8 + 0.15 * lines) / height)
    fig.text(0.1, 0.02, wrapped, ha="left", va="bottom", fontsize=7, color="0.3")
    return fig, ax


def hypervolume_plot(curve: pd.DataFrame, path: Path, *, title: str, notes: str) -> Path:
    """Both arms' hypervolume against cumulative CPU-hours, as steps (a point counts once its trial ends)."""
    fig, ax = _figure(notes)
    for arm, label in ARMS.items():
        part = curve[curve["arm"] == arm]
        if not len(part):
            continue
        hours = np.concatenate([[0.0], part["cpu_hours"].to_numpy(float)])
        hv = np.concatenate([[0.0], part["hypervolume"].to_numpy(float)])
        ax.step(hours, hv, where="post", color=COLORS[arm], linewidth=1.6,
                label=f"{label}: {hv[-1]:.3f} after {hours[-1]:.3g} CPU-h")
        finals = part[part["final"] & part["feasible"]]
        ax.plot(finals["cpu_hours"], finals["hypervolume"], "o", color=COLORS[arm], markersize=3)
    ax.set_xlabel("CPU-hours spent (measuring wall time x torch threads)")
    ax.set_ylabel("hypervolume of the full-budget front (normalised)")
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, color="0.9")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return _save(fig, path)


def fronts_plot(front_sets: dict, curve: pd.DataFrame, objectives, path: Path, *, title: str, notes: str) -> Path:
    """Both arms' full-budget feasible points (small) and fronts (joined by a staircase)."""
    from archlab.report.pareto import axis_unit

    x, y = objectives.metric_column, objectives.accuracy_column
    (xt, xs), (yt, ys) = axis_unit(x), axis_unit(y)
    fig, ax = _figure(notes)
    for arm, label in ARMS.items():
        part = curve[(curve["arm"] == arm) & curve["final"] & curve["feasible"]]
        ax.plot(part[x] * xs, part[y] * ys, "o", color=COLORS[arm], alpha=0.35, markersize=4)
        front = front_sets[arm]
        if len(front):
            ax.step(front[x] * xs, front[y] * ys, where="post", color=COLORS[arm], linewidth=1.4,
                    marker="o", markersize=5, label=f"{label}: front of {len(front)}")
    ax.set_xlabel(xt)
    ax.set_ylabel(yt)
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, color="0.9")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    return _save(fig, path)


def _table(frame: pd.DataFrame, columns: dict) -> str:
    head = "| " + " | ".join(columns.values()) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(row[c]) for c in columns) + " |" for _, row in frame.iterrows()]
    return "\n".join([head, rule, *body])


def machine() -> str:
    """The CPU, its cores and the libraries, in one line."""
    import optuna
    import torch

    from archlab.profile.record import cpu_name

    usable = len(available_cores())
    return (f"{cpu_name()}, {os.cpu_count()} logical cores ({usable} usable by this process); torch "
            f"{torch.__version__}, optuna {optuna.__version__}")


def report_text(space, schedule, objectives, settings: ReportSettings, table: pd.DataFrame, front_sets: dict,
                norm, command: str) -> str:
    """report.md, from the measured figures only."""
    from archlab.report.pareto import axis_unit

    t, threads = objectives.train, settings.resolved_threads()
    x, y = objectives.metric_column, objectives.accuracy_column
    (xt, xs), (yt, ys) = axis_unit(x), axis_unit(y)
    h, w = objectives.size
    cost = (f"median latency of {objectives.latency_runs} runs after {objectives.latency_warmup} warm-up, batch 1, "
            f"fp32, {h}x{w}, {objectives.backend} on the CPU, torch threads: {threads}"
            if objectives.metric == "latency" else f"fvcore MACs at {h}x{w}")
    size = "x".join(map(str, t.get("size", (128, 256))))
    bounds = ", ".join(f"{k} <= {v:g}" for k, v in objectives.constraints.items()) or "none"
    rows = table.copy()
    rows["cpu_hours"] = rows["cpu_hours"].map(lambda v: f"{v:.3g}")
    for c in ("hypervolume", "hypervolume_at_equal_cpu"):
        rows[c] = rows[c].map(lambda v: f"{v:.3f}")
    rows["arm"] = rows["arm"].map(ARMS)
    equal = table["equal_cpu_hours"].iloc[0] if len(table) else math.nan
    by_arm = table.set_index("arm")
    lines = [
        f"# Successive halving against full-budget training: {space.name}",
        "",
        "Generated by `python -m archlab.search.fidelity_report`; do not edit (rerun the command).",
        "",
        "## Setup",
        "",
        f"- Command: `{command}`",
        f"- Date: {_dt.datetime.now().isoformat(timespec='minutes')}",
        f"- Machine: {machine()}. Both arms ran one after the other, one worker each; torch threads: {threads}.",
        f"- Space: {space.title} ({space.describe()}); NSGA-II, population {space.population_size}, sampler seed "
        f"{settings.seed} in both arms; {settings.trials} sampled points per arm.",
        f"- Cost: {cost}. Constraints: {bounds}.",
        f"- Accuracy: mIoU on {t.get('data', 'synthstreets')} ({t.get('eval_split', 'val')}, first "
        f"{t.get('eval_length', 'all')} images) at {size} after a training of B = {schedule.max_steps} steps x batch "
        f"{t.get('batch')} at {size} (warm-up {t.get('warmup_steps')} steps, then poly decay), training seeds "
        f"0..{objectives.seeds - 1}.",
        f"- Arm `full`: every sampled point trains all {schedule.max_steps} steps.",
        f"- Arm `sh`: {schedule.describe()}; a promoted point resumes its training from the rung's checkpoint, and a "
        f"rung's mIoU is that of the B-step schedule's weights at that step.",
        "",
        "## What was measured, how",
        "",
        f"- CPU time of a trial: the wall time of its measurement (profiling, training, evaluation; a promoted trial: "
        f"its further training and evaluation) times the torch threads it ran with ({threads}). A record copied from "
        "an identical earlier trial (a point drawn twice) costs 0. The sampler, the storage and Python's start-up "
        "are not counted. Wall time on a machine shared with other jobs: the figures include their interference.",
        "- Hypervolume: " + (norm.describe(x, y) if norm is not None else "no full-budget feasible point yet")
        + "; computed on full-budget figures only: a lower rung adds nothing, "
        "whatever its mIoU. Both arms share the normalisation and the reference point.",
        "- Training steps: the steps each arm actually ran (a promotion runs only the steps between its rungs).",
        "- Each arm times its own points (a point both arms sampled is timed twice, and the two latencies differ by "
        "the timing noise); a point's training is the same in both (same seed and budget, resumed bit for bit).",
        "",
        "## Results",
        "",
        _table(rows, {"arm": "arm", "sampled_points": "sampled points", "trials": "trials (rung evaluations)",
                      "full_budget_points": "full-budget points", "steps_trained": "training steps",
                      "cpu_hours": "CPU-hours", "front_size": "front size", "hypervolume": "final hypervolume",
                      "hypervolume_at_equal_cpu": f"hypervolume at {equal:.3g} CPU-h"}),
        "",
    ]
    if {"full", "sh"} <= set(by_arm.index):
        f, s = by_arm.loc["full"], by_arm.loc["sh"]
        ratio = s["cpu_hours"] / f["cpu_hours"] if f["cpu_hours"] else math.nan
        lines += [f"Successive halving spent {s['cpu_hours']:.3g} CPU-hours ({ratio:.0%} of the full-budget arm's "
                  f"{f['cpu_hours']:.3g}) and reached a hypervolume of {s['hypervolume']:.3f}; the full-budget arm "
                  f"had {f['hypervolume_at_equal_cpu']:.3f} after the same CPU time and {f['hypervolume']:.3f} at its "
                  f"end. One search per arm (one sampler seed): a difference between the arms is not a tested one.",
                  ""]
    lines += ["![hypervolume against CPU-hours](hypervolume_vs_cpu_hours.png)", "",
              "![fronts](fronts.png)", "", "## Fronts (full-budget figures)", ""]
    for arm, front in front_sets.items():
        lines += [f"### {ARMS[arm]} (`front_{arm}.csv`)", ""]
        if not len(front):
            lines += ["No full-budget feasible point.", ""]
            continue
        shown = front.assign(**{"cost": (front[x] * xs).map(lambda v: f"{v:.4g}"),
                                "acc": (front[y] * ys).map(lambda v: f"{v:.2f}")})
        lines += [_table(shown, {"number": "trial", "label": "point", "cost": xt, "acc": yt}), ""]
    lines += ["## Files", "",
              "- `hypervolume_vs_cpu_hours.csv`: one row per trial of each arm in the order they finished: rung, "
              "figures, CPU seconds, cumulative CPU-hours, hypervolume after it.",
              "- `front_full.csv`, `front_sh.csv`, `fronts.png`: the full-budget fronts.",
              "- `full/study.db`, `sh/study.db`: the two Optuna studies (every trial's record; "
              "`python -m archlab.search NAME --storage sqlite:///OUT/ARM/study.db --export` works on them).", ""]
    return "\n".join(lines)


def write_report(space, out: Path, settings: ReportSettings, command: str) -> list[Path]:
    """Read both arms' studies and write every file; returns the paths written."""
    space, schedule = budget_space(space, settings)
    frames, objectives = {}, None
    for arm in ARMS:
        study, objectives = load_arm(space, out, settings, arm)
        frames[arm] = arm_frame(study, objectives, arm, settings.resolved_threads())
    curve, norm = with_hypervolume(frames, objectives)
    table = summary(curve, objectives)
    front_sets = fronts(curve, objectives)
    out = Path(out)
    written = [atomic_write_csv(out / "hypervolume_vs_cpu_hours.csv", curve)]
    for arm, front in front_sets.items():
        written.append(atomic_write_csv(out / f"front_{arm}.csv", front))
    notes = "\n".join([
        "Hypervolume of each arm's full-budget feasible front after each trial; "
        + (norm.describe(objectives.metric_column, objectives.accuracy_column) if norm is not None else "no point yet")
        + ".", f"CPU-hours: measuring wall time x {settings.resolved_threads()} torch threads, summed in the order "
        f"trials finished; sh: {schedule.describe()}; B = {schedule.max_steps} steps.", f"Made by: {command}"])
    written.append(hypervolume_plot(curve, out / "hypervolume_vs_cpu_hours.png",
                                    title=f"{space.name}: hypervolume against CPU-hours", notes=notes))
    written.append(fronts_plot(front_sets, curve, objectives, out / "fronts.png",
                               title=f"{space.name}: full-budget fronts of both arms",
                               notes=f"Full-budget feasible trials of each arm (faint) and their fronts.\n"
                                     f"Made by: {command}"))
    written.append(atomic_write(out / "report.md",
                                report_text(space, schedule, objectives, settings, table, front_sets, norm, command)))
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m archlab.search.fidelity_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="search space: a name (its file in archlab's studies or a --studies-dir folder) or a "
                                "path to a .py file defining SEARCH")
    cli.add_out_dir(p, required=True, help="report folder (the two studies go in OUT/full and OUT/sh)")
    d = ReportSettings()
    p.add_argument("--trials", type=cli.positive_int, default=d.trials,
                   help=f"sampled points per arm (default {d.trials})")
    p.add_argument("--steps", type=cli.positive_int, metavar="B", help="full training budget in steps (default: the "
                   "space's)")
    p.add_argument("--eta", type=cli.positive_int,
                   help="successive halving keeps the best 1/eta per rung (>= 2; default 3)")
    p.add_argument("--min-steps", type=cli.positive_int, metavar="N",
                   help="steps of the first rung (default B / eta^2, rounded up)")
    p.add_argument("--bracket", type=cli.positive_int, metavar="N", help="sampled points per bracket (default "
                   "eta^(rungs - 1))")
    cli.add_threads(p, help="torch threads of each arm (default: every core)")
    p.add_argument("--seed", type=cli.non_negative_int, default=0, help="sampler seed of both arms")
    p.add_argument("--runs-dir", type=Path, help="training checkpoints (default runs/fidelity_report/NAME)")
    cli.add_studies_dir(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from archlab.errors import ArchlabError
    from archlab.search.space import load_space

    given = argv if argv is not None else sys.argv[1:]
    command = "python -m archlab.search.fidelity_report " + " ".join(shlex.quote(str(a)) for a in given)
    settings = ReportSettings(trials=args.trials, eta=args.eta, min_steps=args.min_steps, bracket=args.bracket,
                              steps=args.steps, threads=args.threads, seed=args.seed, runs_dir=args.runs_dir)
    try:
        space = load_space(args.name, check=False, studies_dirs=args.studies_dir)
        space, _ = budget_space(space, settings)          # the schedule is checked before any work
        space.check(build=True)
        results = run_arms(space, args.out, settings)
        written = write_report(space, args.out, settings, command)
    except (ArchlabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished trials are in the studies; run the same command to resume", file=sys.stderr)
        return 130
    for arm, result in results.items():
        print(f"{arm}: {result.trials} sampled points, {result.complete} trials complete, {result.final} at the full "
              f"budget; this run finished {result.ran}")
    print(f"wrote {', '.join(map(str, written))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
