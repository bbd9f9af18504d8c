"""A search's report files: trials.csv, front.csv, front.png, hypervolume.csv, hypervolume.png, reference.csv.

The hand-designed points are the variants of the space's ``reference_study`` (for search_fassd the
rows of FASSD-Net's ablation, Rosas-Arias et al., ICPR 2020, Table I), measured by the same
:class:`~archlab.search.objective.Evaluator` under the study's stored objectives and cached in
``reference.csv`` by (variant, spec hash, settings). A variant that cannot run at the search's
sizes is left out, and the plot's notes say so.

The hypervolume (:mod:`archlab.search.hypervolume`) of the search's feasible front after each
trial (in trial-number order) is compared with that of the feasible hand-designed points, both
under one normalisation over every feasible point of either set and one reference point.

Under successive halving (:mod:`archlab.search.fidelity`) only full-budget trials are results:
trials.csv lists every rung (``rung``, ``rung_steps``, ``final``), while the front, its plot and
the hypervolume use the final trials alone (a lower rung's mIoU is of a model part-way through
its training). Each row names the worker slot that ran the trial (``worker_device``), the one
whose worker timed its latency (``latency_worker_device``) and that device (``device_name``).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from optuna.trial import TrialState

from archlab.search import fidelity
from archlab.search import optuna_compat as compat
from archlab.search.hypervolume import Normalisation, hypervolume, hypervolume_curve
from archlab.search.objective import Evaluator, Objectives
from archlab.search.space import SearchSpace
from archlab.search.storage import counted_trials, retried_numbers
from archlab.files import atomic_write_csv

FIGURES = ("params", "macs_fvcore", "latency_ms_median", "latency_ms_iqr", "fps", "device_name", "input_size",
           "miou_ci_low", "miou_ci_high", "miou_seeds", "worker_device", "latency_worker_device", "worker_cores",
           "train_steps", "eval_time_s")


def trials_frame(study, objectives: Objectives) -> pd.DataFrame:
    """One row per trial: number, state, point, cost and accuracy columns, constraint values, feasibility,
    and the rung (``rung``, ``rung_steps``, ``final``: whether its figures are full-budget ones)."""
    retried = retried_numbers(study.get_trials(deepcopy=False))
    rows = []
    for t in study.get_trials(deepcopy=False):
        record = t.user_attrs.get("record", {})
        row = {"number": t.number, "state": t.state.name, "label": t.user_attrs.get("label", ""),
               "variant": f"#{t.number}", **{f"param_{k}": v for k, v in t.params.items()}}
        if t.state == TrialState.COMPLETE:
            row[objectives.metric_column], row[objectives.accuracy_column] = t.values
        for k in FIGURES:
            if k in record and k not in row:
                row[k] = record[k]
        for name, value in t.constraints.items():
            row[f"violation_{name}"] = value
        row["feasible"] = bool(t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values()))
        row["rung"], row["rung_steps"] = fidelity.rung_of(t), t.user_attrs.get("rung_steps")
        row["final"] = fidelity.is_final(t)
        row["promoted_from"] = t.user_attrs.get("promoted_from")
        row["retry_of"] = compat.retried_trial_number(t)
        row["retried"] = t.number in retried
        row["cached_from"] = record.get("cached_from")
        row["error"] = t.user_attrs.get("error")
        row["spec_hash"] = record.get("spec_hash")
        row["datetime_complete"] = t.datetime_complete.isoformat(timespec="seconds") if t.datetime_complete else None
        row["spec_json"] = t.user_attrs.get("spec")
        rows.append(row)
    return pd.DataFrame(rows)


def reference_points(space: SearchSpace, objectives: Objectives, out: Path, *, threads: int | None = None,
                     runs_dir: Path | None = None, studies_dirs=()) -> tuple[pd.DataFrame, list[str]]:
    """The reference study's variants measured under ``objectives`` (cached in ``out/reference.csv``).

    Returns ``(frame, notes)``: one row per variant that runs at the search's sizes (columns
    ``variant``, the cost and accuracy columns, figures, ``feasible``), and a note per variant left out.
    """
    from archlab.errors import SpecError
    from archlab.graph import check_input_size
    from archlab.search.space import parse_accuracy

    if not space.reference_study:
        return pd.DataFrame(), []
    study = _reference_study(space, studies_dirs)
    cache_path = Path(out) / "reference.csv"
    cache = pd.read_csv(cache_path) if cache_path.is_file() else pd.DataFrame()
    kind, _ = parse_accuracy(objectives.accuracy)
    other = tuple(objectives.train.get("size", (128, 256))) if kind == "miou" else tuple(objectives.proxy["size"])
    evaluator = None
    rows, notes = [], []
    for variant in study.variants:
        spec = _variant_spec(study, variant)
        key = (variant.name, spec.content_hash(), objectives.key())
        hit = cache[(cache["variant"] == key[0]) & (cache["spec_hash"] == key[1]) & (cache["settings_key"] == key[2])] \
            if len(cache) else cache
        if len(hit):
            row = hit.iloc[-1].to_dict()
        else:
            row = {"variant": variant.name, "spec_hash": key[1], "settings_key": key[2]}
            try:
                for hw in (objectives.size, other):
                    check_input_size(spec, (1, 3, *hw))
                if evaluator is None:
                    evaluator = Evaluator(objectives, threads=threads,
                                          runs_dir=runs_dir or Path("runs") / "search" / space.name / "reference")
                print(f"measuring hand-designed point {variant.name} ({study.name})", file=sys.stderr, flush=True)
                record = evaluator.evaluate(spec)      # builds (and so validates) at the search's sizes
            except SpecError as exc:
                row["left_out"] = f"it does not run at the search's sizes ({exc})"
            else:
                row.update({objectives.metric_column: record[objectives.metric_column],
                            objectives.accuracy_column: record.get(objectives.accuracy_column),
                            **{k: record[k] for k in FIGURES if k in record and k != objectives.metric_column},
                            **{f"violation_{k}": v for k, v in record["constraint_values"].items()},
                            "feasible": record["feasible"], "record_json": json.dumps(record)})
            keep = cache[~((cache["variant"] == key[0]) & (cache["settings_key"] == key[2]))] if len(cache) else cache
            cache = pd.concat([keep, pd.DataFrame([row])], ignore_index=True)
            atomic_write_csv(cache_path, cache)
        if isinstance(row.get("left_out"), str):
            notes.append(f"{variant.name} left out: {row['left_out']}")
        else:
            rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["feasible"] = frame["feasible"].astype(bool)
        frame = frame.drop(columns=[c for c in ("left_out",) if c in frame])
    return frame, notes


def _reference_study(space: SearchSpace, studies_dirs=()):
    """The space's reference study (``studies/NAME.py``'s STUDY), not validated at the study's own size:
    its variants are only ever built at the search's sizes."""
    from archlab.search.space import SearchError
    from archlab.study import Study
    from archlab.study.definition import NAME_RE
    from archlab.study.files import StudyFileError, import_study_file

    name = space.reference_study
    try:
        if not NAME_RE.match(name):
            raise StudyFileError("not a study name")
        study = getattr(import_study_file(name, studies_dirs), "STUDY", None)
    except StudyFileError as exc:
        study, why = None, str(exc)
    else:
        why = "it defines no STUDY"
    if not isinstance(study, Study):
        raise SearchError(f"reference_study {name!r} cannot be loaded from studies/{name}.py ({why})", space=space.name)
    return study


def _variant_spec(study, variant):
    """A study variant's spec as :meth:`archlab.study.Study.spec` makes it, without its validation at the
    study's size (the measurement validates at the search's)."""
    from archlab.zoo import get_spec

    spec = get_spec(variant.base or study.base, num_classes=study.num_classes)
    for op in variant.ops:
        spec = op.apply(spec)
    return spec.with_(name=f"{study.name}[{variant.name}]")


def _settings_note(objectives: Objectives, frame: pd.DataFrame) -> str:
    h, w = objectives.size
    device = frame["device_name"].dropna().iloc[0] if "device_name" in frame and frame["device_name"].notna().any() \
        else objectives.device
    names = sorted(frame["device_name"].dropna().unique()) if "device_name" in frame else []
    slots = sorted(frame["latency_worker_device"].dropna().unique()) if "latency_worker_device" in frame else []
    if len(names) > 1 or len(slots) > 1:       # several devices timed: trials.csv says which timed each trial
        device = (f"{', '.join(map(str, names))} (worker slots {', '.join(map(str, slots))}; per trial: "
                  f"latency_worker_device, device_name in trials.csv)")
    cost = (f"latency: median of {objectives.latency_runs} runs (after {objectives.latency_warmup} warm-up), "
            f"batch 1, fp32, {h}x{w} on {device}") if objectives.metric == "latency" else f"MACs: fvcore, {h}x{w}"
    if objectives.accuracy == "miou":
        t = objectives.train
        acc = (f"accuracy: proxy mIoU after {t.get('steps')} steps x batch {t.get('batch')} at "
               f"{'x'.join(map(str, t.get('size', ())))} on {t.get('data', 'synthstreets')}")
    else:
        p = objectives.proxy
        acc = (f"accuracy: zero-cost proxy {objectives.accuracy.split(':', 1)[1]} on {p.get('batch')} "
               f"{p.get('dataset')} images at {'x'.join(map(str, p.get('size', ())))} (higher is better)")
    bounds = ", ".join(f"{k} <= {v:g}" for k, v in objectives.constraints.items()) or "none"
    return f"{cost}; {acc}; constraints: {bounds}."


def export(space: SearchSpace, *, storage: str | None = None, out: Path | None = None, command: str = "",
           threads: int | None = None, studies_dirs=()) -> list[Path]:
    """Write the search's report files under ``out`` (default reports/NAME); returns the paths written."""
    from archlab.report.pareto import pareto_mask, pareto_plot
    from archlab.search.runner import ATTR_FIDELITY, SearchSettings, open_search_study
    from archlab.search.storage import resolve_storage

    out = Path(out) if out is not None else Path("reports") / space.name
    choice = resolve_storage(storage, out, 1)
    settings = SearchSettings(storage=storage, out=out)
    study, _, objectives = open_search_study(space, choice, None, settings, create=False)
    x, y = objectives.metric_column, objectives.accuracy_column
    frame = trials_frame(study, objectives)
    if not len(frame) or not (frame["state"] == "COMPLETE").any():
        raise ValueError(f"study {space.name!r} in {choice.describe()} has no complete trial to export")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    atomic_write_csv(out / "trials.csv", frame.drop(columns=["spec_json"]))
    written.append(out / "trials.csv")

    ok = frame[frame["feasible"] & frame["final"] & np.isfinite(pd.to_numeric(frame[y], errors="coerce"))].copy()
    mask = pareto_mask(ok[x], ok[y]) if len(ok) else np.zeros(0, bool)
    front = ok[mask].sort_values(x)
    atomic_write_csv(out / "front.csv", front)
    written.append(out / "front.csv")

    refs, ref_notes = reference_points(space, objectives, out, threads=threads, studies_dirs=studies_dirs)
    feasible_refs = refs[refs["feasible"]] if len(refs) else refs
    infeasible_refs = refs[~refs["feasible"]]["variant"].tolist() if len(refs) else []
    counted = counted_trials(study.get_trials(deepcopy=False))
    n_complete = int((frame["state"] == "COMPLETE").sum())
    lower = int(((frame["state"] == "COMPLETE") & ~frame["final"]).sum())
    schedule = study.user_attrs.get(ATTR_FIDELITY)
    lines = [f"{len(counted)} trials ({n_complete} complete, {len(ok)} feasible and drawn; "
             f"{n_complete - len(ok) - lower} infeasible or without a finite accuracy, not drawn"
             + (f"; {lower} at lower rungs of successive halving (rungs {schedule['rungs']} steps, eta "
                f"{schedule['eta']}), not drawn: only full-budget figures are final" if schedule else "")
             + "). Labels: trial numbers (front.csv has their points).",
             _settings_note(objectives, frame),
             f"Hand-designed: the {space.reference_study} variants, measured the same way"
             + (f"; infeasible, not drawn: {', '.join(infeasible_refs)}" if infeasible_refs else "") + "."]
    lines += [n + "." for n in ref_notes]
    if command:
        lines.append(f"Made by: {command}")
    if len(ok):
        pareto_plot(ok, x, y, out / "front.png", label="variant",
                    reference=feasible_refs if len(feasible_refs) else None,
                    reference_label=f"hand-designed ({space.reference_study})", title=f"{space.title}: search front",
                    notes="\n".join(lines))
        written.append(out / "front.png")

    # hypervolume after each trial, against the hand-designed points'
    cost_all = np.concatenate([pd.to_numeric(ok[x]).to_numpy(float),
                               pd.to_numeric(feasible_refs[x]).to_numpy(float) if len(feasible_refs) else []])
    acc_all = np.concatenate([pd.to_numeric(ok[y]).to_numpy(float),
                              pd.to_numeric(feasible_refs[y]).to_numpy(float) if len(feasible_refs) else []])
    if np.isfinite(cost_all).any():
        norm = Normalisation.over(cost_all, acc_all)
        ordered = frame.sort_values("number")
        use = ordered["feasible"] & ordered["final"] & np.isfinite(pd.to_numeric(ordered[y], errors="coerce"))
        c = np.where(use, pd.to_numeric(ordered[x], errors="coerce"), np.nan)
        a = np.where(use, pd.to_numeric(ordered[y], errors="coerce"), np.nan)
        curve = hypervolume_curve(c, a, norm)
        ref_hv = hypervolume(feasible_refs[x], feasible_refs[y], norm) if len(feasible_refs) else math.nan
        hv = pd.DataFrame({"number": ordered["number"].to_numpy(), "state": ordered["state"].to_numpy(),
                           "feasible": ordered["feasible"].to_numpy(), "final": ordered["final"].to_numpy(),
                           "hypervolume": curve,
                           "reference_hypervolume": ref_hv})
        atomic_write_csv(out / "hypervolume.csv", hv)
        written.append(out / "hypervolume.csv")
        hv_notes = [norm.describe(x, y) + ".", "Search: feasible complete trials up to each trial number"
                    + (" (full-budget ones only; lower rungs of successive halving add nothing)" if schedule else "")
                    + f"; hand-designed: feasible {space.reference_study} variants ({len(feasible_refs)})."]
        if command:
            hv_notes.append(f"Made by: {command}")
        written.append(_hypervolume_plot(hv, out / "hypervolume.png", title=f"{space.title}: hypervolume",
                                         reference_label=f"hand-designed ({space.reference_study})",
                                         notes="\n".join(hv_notes)))
    return written


def _hypervolume_plot(hv: pd.DataFrame, path: Path, *, title: str, reference_label: str, notes: str) -> Path:
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    wrapped = "\n".join(textwrap.fill(line, 120) for line in notes.splitlines())
    lines = wrapped.count("\n") + 1
    height = 4.2 + 0.15 * lines
    fig, ax = plt.subplots(figsize=(8.4, height))
    fig.subplots_adjust(left=0.1, right=0.97, top=1 - 0.4 / height, bottom=(0.75 + 0.15 * lines) / height)
    ax.step(hv["number"], hv["hypervolume"], where="post", color="#1f5fa8", linewidth=1.6,
            label="search (feasible front so far)")
    ref = hv["reference_hypervolume"].iloc[0]
    if math.isfinite(ref):
        ax.axhline(ref, color="#c2410c", linestyle="--", linewidth=1.2, label=f"{reference_label}: {ref:.3f}")
    ax.set_xlabel("trial number")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("hypervolume (normalised)")
    ax.set_title(f"{title} (final {hv['hypervolume'].iloc[-1]:.3f})", fontsize=11, loc="left")
    ax.grid(True, color="0.9")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.text(0.1, 0.02, wrapped, ha="left", va="bottom", fontsize=7, color="0.3")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
