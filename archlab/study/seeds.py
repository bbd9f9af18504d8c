"""A study's trainings: one per (variant, seed, budget), each cached in ``OUT/seeds.csv``.

Seed ``s`` of every variant trains with ``TrainConfig(seed=s)``: the same data order, crops, flips
and initial random stream for every variant (common random numbers, :mod:`archlab.train.loader`),
so the per-seed differences between variants are paired (:func:`archlab.stats.paired_difference`).

Each training is stored under its key: the spec's hash, every training setting (the seed and the
budget included) and :func:`archlab.train.provenance.determinants` (thread count, code digest,
data version, library versions). A rerun reuses exactly the trainings whose key matches; a study
killed mid-way loses at most the training in flight (which resumes from its checkpoint), and a
change to anything that decides a result trains again. The budget calibration
(:mod:`archlab.study.calibrate`) stores its trainings in the same file, so the rung that equals
the study's budget is trained once for both.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pandas as pd

from archlab.files import read_csv, restore_integers, update_csv
from archlab.stats import paired_difference, t_interval
from archlab.train import provenance
from archlab.hashing import digest, text_digest

SEEDS_FILE = "seeds.csv"
#: Record fields not kept per seed (large, or identical for every seed and kept elsewhere).
RECORD_DROP = ("confusion", "spec_json", "train_config", "model", "device", "device_name", "threads",
               "archlab_version", "date", "params", "train_seed")
KEY_COLUMNS = ("train_key", "spec_hash", "config_hash", "determinants_hash", "code_digest", "data_version")


def train_key(spec_hash: str, config, threads: int) -> str:
    """The cache key of one training: spec, settings (seed and budget included) and determinants."""
    parts = [spec_hash, config.result_hash(), provenance.determinants_hash(threads)]
    return digest(parts)


def budget_label(config) -> str:
    """``100 steps x 8 at 128x256`` for a :class:`TrainConfig`."""
    return f"{config.steps} steps x {config.batch} at {config.size[0]}x{config.size[1]}"


class SeedResults:
    """``seeds.csv``: one row per training, keyed by ``train_key``; every ``put`` rewrites it
    atomically under its lock and keeps rows other processes wrote meanwhile."""

    def __init__(self, path: Path, fresh: bool = False):
        self.path = Path(path)
        self.rows: dict[str, dict] = {}
        if fresh:
            self.path.unlink(missing_ok=True)
        elif self.path.is_file():
            frame = read_csv(self.path, required=("train_key", "variant", "seed"), dtype={k: str for k in KEY_COLUMNS},
                             remedy="rerun with --force to train every seed afresh, or delete the file")
            self.rows = {row["train_key"]: row for row in frame.to_dict("records")}

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, row: dict) -> None:
        self.rows[row["train_key"]] = row

        def merge(current):
            rows = dict(self.rows)
            if current is not None and "train_key" in current:
                for other in current.to_dict("records"):
                    rows.setdefault(other["train_key"], other)
            ordered = sorted(rows.values(), key=lambda r: (str(r.get("budget")), int(r["seed"]), int(r.get("order", 0))))
            return restore_integers(pd.DataFrame(ordered))

        update_csv(self.path, merge, dtype={k: str for k in KEY_COLUMNS},
                   remedy="rerun with --force to train every seed afresh, or delete the file")


def train_seeds(specs: dict, order: list[str], config, seeds, store: SeedResults, runs_dir: Path, *,
                threads: int | None, force: bool, bar=None, label: str = "") -> dict:
    """Train every variant in ``order`` with every seed in ``seeds`` (seed-major: all variants of
    seed 0 first, so an interrupted study already has comparable rows), reusing cached trainings.
    Returns ``{(variant, seed): row}``."""
    threads = provenance.training_threads(threads)
    out = {}
    for seed in seeds:
        cfg = replace(config, seed=seed)
        for index, variant in enumerate(order, start=1):
            key = train_key(specs[variant].content_hash(), cfg, threads)
            where = f"{label}[{index}/{len(order)}] {variant}, seed {seed}"
            row = None if force else store.get(key)
            if row is None:
                row = train_one(specs[variant], variant, index, cfg, runs_dir, threads=threads, force=force, bar=bar,
                                where=where)
                store.put(row)
            if bar:
                bar.stage(f"{where}: trained", advance=1)
            out[(variant, seed)] = row
    return out


def train_one(spec, variant: str, index: int, config, runs_dir: Path, *, threads: int, force: bool, bar=None,
              where: str = "") -> dict:
    """One training of ``spec`` under ``config`` (its seed included) in its run directory under
    ``runs_dir`` (resumed from its checkpoint unless ``force``); returns its ``seeds.csv`` row."""
    from archlab.train import train

    key = train_key(spec.content_hash(), config, threads)
    if bar:
        bar.stage(f"{where}: training")
    run = Path(runs_dir) / f"{_slug(variant)}-s{config.seed}-{key[:8]}"
    record = train(spec, config, out=run, progress=False, resume=not force, threads=threads,
                   on_step=(lambda done, total, loss, w=where: bar.stage(
                       f"{w}: training step {done}/{total}, loss {loss:.3f}")) if bar else None)
    return {"variant": variant, "seed": config.seed, "order": index, "budget": budget_label(config),
            **{k: v for k, v in record.items() if k not in RECORD_DROP}, "train_key": key, "train_run": str(run)}


def _slug(name: str) -> str:
    from archlab.study.jobs import slug   # the study's one file-name rule (jobs imports this module)

    return slug(name)


def _ok(row: dict) -> bool:
    return row.get("status") == "ok" and isinstance(row.get("miou"), (int, float)) and not math.isnan(row["miou"])


def aggregate(rows: dict, order: list[str], seeds, baseline_of: dict[str, str | None]) -> dict[str, dict]:
    """Per variant: the mean mIoU over its finished seeds with its 95% interval, per-class means,
    summed training time, and its paired difference to its baseline ``baseline_of[variant]``
    (interval, resolved or not; a baseline's difference to itself is 0 and never resolved)."""
    per_variant: dict[str, dict] = {}
    miou = {v: {s: rows[(v, s)]["miou"] for s in seeds if (v, s) in rows and _ok(rows[(v, s)])} for v in order}
    for variant in order:
        mine = [rows[(variant, s)] for s in seeds if (variant, s) in rows]
        if not mine:
            continue
        ok = [r for r in mine if _ok(r)]
        first = mine[0]
        interval = t_interval(miou[variant].values())
        failed = [r for r in mine if not _ok(r)]
        fields = {
            "miou": interval.mean, "miou_ci_low": interval.low, "miou_ci_high": interval.high,
            "miou_std": interval.std, "miou_seeds": interval.n, "miou_level": interval.level,
            "train_seeds": ",".join(str(int(r["seed"])) for r in mine),
            "status": "ok" if ok else str(first.get("status")),
            "seeds_failed": "; ".join(f"seed {int(r['seed'])}: {r.get('failure') or r.get('status')}" for r in failed),
            "train_time_s": sum(float(r.get("train_time_s") or 0) for r in mine),
            "eval_time_s": sum(float(r.get("eval_time_s") or 0) for r in mine),
            "train_key": text_digest(",".join(str(r["train_key"]) for r in mine)),
            "train_run": str(first.get("train_run", "")),
        }
        for k in ("miou_dataset", "miou_split", "miou_size", "miou_images", "train_steps", "train_batch",
                  "train_size", "train_lr", "train_data_seed", "train_ohem", "budget", "train_threads",
                  "code_digest", "data_version", "torch_version", "numpy_version"):
            if k in first:
                fields[k] = first[k]
        for k in first:
            if k.startswith("iou_"):
                values = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
                fields[k] = sum(values) / len(values) if values else math.nan
        baseline = baseline_of.get(variant)
        if baseline is not None and baseline in miou:
            diff = paired_difference(miou[variant], miou[baseline])
            fields.update({"miou_delta": diff.mean, "miou_delta_low": diff.low, "miou_delta_high": diff.high,
                           "miou_delta_pairs": diff.n, "miou_delta_resolved": bool(diff.resolved)})
        per_variant[variant] = fields
    return per_variant
