"""Run a study: profile and (proxy-)train every variant, cache each stage, keep every finished row.

Stages per variant: ``profile`` (parameters and MACs by every counter, per node, at the study's
size) and ``train`` (the proxy budget, once per seed, through :mod:`archlab.study.seeds`, which
caches every (variant, seed) training in ``OUT/seeds.csv`` and aggregates the seeds into the
variant's mean, 95% interval and paired difference to the baseline); and one stage for
all variants together, ``timing``: latency on the chosen device, every variant timed in the same
interleaved rounds (:mod:`archlab.profile.interleaved`), so each variant's ratio to the baseline
is taken within rounds where both saw the same machine, and each node's time per forward is read
from the same forwards. Each stage's result is stored in ``OUT/results.csv`` with the key it was
made under (``profile_key``: spec hash + size; ``timing_key``: every variant's spec hash + size +
device + timing settings; per seed in ``seeds.csv``, ``train_key``: spec hash + training settings +
thread count, code digest and library versions); a rerun reuses a stage
whose key matches, so an
interrupted study resumes where it stopped (a half-trained variant resumes from its checkpoint
under ``runs/studies/NAME/``) and ``--force`` redoes everything. The CSV is rewritten atomically
after every stage.
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from archlab.files import atomic_write_csv, file_lock, read_csv, restore_integers, update_csv
from archlab.hashing import digest
from archlab.progress import ProgressBar
from archlab.study.definition import Study, Variant
from archlab.study.seeds import SEEDS_FILE, SeedResults, aggregate, train_seeds

PROFILE_FIELDS = ("params", "macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled", "input_size",
                  "torch_version")
TIMING_FIELDS = ("latency_ms_median", "latency_ms_iqr", "fps", "latency_noisy", "latency_rounds",
                 "latency_runs_per_round", "latency_warmup", "latency_ratio", "latency_ratio_p25",
                 "latency_ratio_p75", "fps_ratio", "fps_ratio_p25", "fps_ratio_p75", "device", "device_name",
                 "cpu_threads", "cpu_allocator", "dtype", "cudnn_benchmark", "timing_key", "timing_time_s", "backend",
                 "backend_version", "opset", "precision", "backend_threads", "max_abs_error",
                 "adaptive_pools_rewritten")


@dataclass(frozen=True)
class StudySettings:
    """How this run measures: the command line's choices on top of the study's own defaults."""

    device: str = "cpu"
    size: tuple[int, int] | None = None     # None: the study's
    train: bool = True
    budget: dict = field(default_factory=dict)   # TrainConfig overrides on top of the study's
    threads: int | None = None
    runs: int | None = None           # interleaved rounds (None: the study's latency_runs)
    warmup: int | None = None
    runs_per_round: int | None = None  # forwards per variant per round (None: the study's)
    seeds: int | None = None          # trainings per variant, seeds 0..n-1 (None: the study's)
    retime: bool = False              # time again even when the cached timing matches (a quieter machine)
    backend: str = "eager"            # latency in eager PyTorch or a deployment runtime (archlab.runtimes)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "variant"


def _key(*parts) -> str:
    return digest(parts)


class ResultsFile:
    """``results.csv`` as rows keyed by variant; every ``put`` rewrites it atomically.

    A file that cannot be read (truncated, corrupt, no ``variant`` column) is an error naming it,
    unless ``fresh`` (``--force``), which starts it anew. Integer columns stay integers across
    resumes (rows read back with gaps would otherwise turn 30 into 30.0).
    """

    KEY_COLUMNS = ("spec_hash", "profile_key", "train_key", "timing_key")

    def __init__(self, path: Path, fresh: bool = False):
        self.path = path
        self.rows: dict[str, dict] = {}
        if fresh:
            path.unlink(missing_ok=True)  # --force: every variant is measured again, a corrupt file included
        elif path.is_file():
            frame = read_csv(path, required=("variant",), dtype={k: str for k in self.KEY_COLUMNS},
                             remedy="rerun with --force to measure every variant afresh, or delete the file")
            for row in frame.to_dict("records"):
                self.rows[row["variant"]] = row

    def get(self, variant: str) -> dict:
        return self.rows.get(variant, {})

    def put(self, variant: str, row: dict, order: list[str]) -> None:
        """Store ``row`` and rewrite the file under its lock, keeping rows another process wrote."""
        self.rows[variant] = row

        def merge(current):
            rows = dict(self.rows)
            if current is not None and "variant" in current:
                for other in current.to_dict("records"):
                    rows.setdefault(other["variant"], other)
            ranked = [v for v in order if v in rows] + [v for v in rows if v not in order]
            return restore_integers(pd.DataFrame([rows[v] for v in ranked]))

        update_csv(self.path, merge, dtype={k: str for k in self.KEY_COLUMNS},
                   remedy="rerun with --force to measure every variant afresh, or delete the file")

    def read(self) -> pd.DataFrame:
        return read_csv(self.path, dtype={k: str for k in self.KEY_COLUMNS})


class StageProgress:
    """The study's one progress bar (:class:`archlab.progress.ProgressBar`): which variant, which stage,
    training steps; in a log, one line per stage."""

    def __init__(self, enabled: bool, total: int, name: str):
        self.name, self._last_plain = name, ""
        self.bar = ProgressBar(enabled, name, total)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def stage(self, text: str, advance: int = 0):
        self.bar.update(description=f"{self.name}: {text}", advance=advance)
        head = text.split(": training step")[0]
        if head != self._last_plain:
            self.bar.line(f"{self.name}: {text}")
            self._last_plain = head

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)


def run_study(study: Study, settings: StudySettings = StudySettings(), *, out: Path | None = None,
              runs_dir: Path | None = None, force: bool = False, progress: bool = True) -> pd.DataFrame:
    """Measure every variant of ``study`` (reusing cached stages) and return the results table."""
    from archlab.train import TrainConfig

    study.check()
    out = Path(out or Path("reports") / study.name)
    runs_dir = Path(runs_dir or Path("runs") / "studies" / study.name)
    size = tuple(settings.size or study.size)
    config = TrainConfig(**{**study.train, **settings.budget, "device": settings.device})
    specs = {v.name: study.spec(v) for v in study.variants}
    _check_sizes(study, specs, size, config.size if settings.train else None)
    order = [v.name for v in study.variants]
    with file_lock(out / ".study", wait_message=lambda: print(
            f"{study.name}: another process is running this study into {out}; waiting for it to finish, then "
            f"reusing what it measured", file=sys.stderr, flush=True)):
        return _run_locked(study, settings, specs, size, config, order, out, runs_dir, force, progress)


def _run_locked(study, settings, specs, size, config, order, out, runs_dir, force, progress) -> pd.DataFrame:
    results = ResultsFile(out / "results.csv", fresh=force)
    seeds = study_seeds(study, settings)
    with StageProgress(progress, len(order) * (2 + (len(seeds) if settings.train else 0)), study.name) as bar:
        rows = {}
        for i, variant in enumerate(study.variants, start=1):
            spec = specs[variant.name]
            where = f"[{i}/{len(order)}] {variant.name}"
            row = {} if force else dict(results.get(variant.name))
            if row.get("spec_hash") != spec.content_hash():
                row = {}
            row.update(_identity(study, variant, spec, i))
            row.update(study.published(variant))
            profile_key = _key(spec.content_hash(), size)
            if row.get("profile_key") != profile_key:
                bar.stage(f"{where}: counting at {size[0]}x{size[1]}")
                row.update(_count(spec, size, out / "breakdown" / f"{slug(variant.name)}.csv"))
                row["profile_key"] = profile_key
                results.put(variant.name, row, order)
            bar.stage(f"{where}: counted", advance=1)
            rows[variant.name] = row
        if settings.train:
            bar.stage(f"scale check: {config.size[0]}x{config.size[1]} against {size[0]}x{size[1]}")
            for name, fields in _scale_fields(specs, order, config.size, size).items():
                rows[name].update(fields)
                results.put(name, rows[name], order)
            store = SeedResults(out / SEEDS_FILE, fresh=force)
            trained = train_seeds(specs, order, config, seeds, store, runs_dir, threads=settings.threads, force=force,
                                  bar=bar)
            baseline_of = {v: study.baseline_of(v) for v in order}
            for name, fields in aggregate(trained, order, seeds, baseline_of).items():
                old = rows[name]
                timing = {k: v for k, v in old.items() if k in TIMING_FIELDS}
                row = {k: v for k, v in old.items() if k not in timing and k not in fields
                       and not k.startswith(("iou_", "train_", "miou"))}
                results.put(name, {**row, **fields, **timing}, order)
        _timing_stage(study, settings, specs, size, results, order, out, bar, force)
    return results.read()


def _scale_fields(specs: dict, order: list[str], train_size, size) -> dict[str, dict]:
    """Per variant, the blocks a proxy training at ``train_size`` cannot judge (their reach exceeds
    their map there but not at ``size``), and the smallest input at which no variant has one."""
    from archlab.study import scale

    flags = {name: scale.summarise(specs[name], scale.scale_flags(specs[name], train_size, size)) for name in order}
    clean = scale.smallest_clean_size([specs[n] for n in order], train_size, size) if any(flags.values()) \
        else tuple(train_size)
    clean_text = f"{clean[0]}x{clean[1]}" if clean else f"none up to {size[0]}x{size[1]}"
    return {name: {"scale_flags": "; ".join(flags[name]), "scale_clean_size": clean_text,
                   "scale_checked_at": f"{train_size[0]}x{train_size[1]} vs {size[0]}x{size[1]}"} for name in order}


def study_seeds(study: Study, settings: StudySettings) -> list[int]:
    """The seeds this run trains: ``0 .. n-1`` with n from ``--seeds`` or the study's ``seeds``."""
    return list(range(settings.seeds or study.seeds))


def _count(spec, size, breakdown_csv: Path) -> dict:
    """The profile stage: parameters and every counter's MACs, in total and per node (written to
    ``breakdown_csv``), timed."""
    from archlab.profile import profile

    tick = time.perf_counter()
    result = profile(spec, (1, 3, *size), breakdown=True, latency=False, memory=False)
    atomic_write_csv(breakdown_csv, result.per_node.rename_axis("node").reset_index())
    row = {k: result.record.get(k) for k in PROFILE_FIELDS if k in result.record}
    row["profile_time_s"] = time.perf_counter() - tick
    return row


def _timing_stage(study: Study, settings: StudySettings, specs: dict, size, results: ResultsFile, order: list[str],
                  out: Path, bar: StageProgress, force: bool) -> None:
    """Time every variant together in interleaved rounds (unless the cached timing matches)."""
    from archlab.graph import build
    from archlab.profile.deploy import DeploySettings, prepare
    from archlab.profile.interleaved import measure_interleaved
    from archlab.profile.record import device_name

    rounds = settings.runs or study.latency_runs
    warmup = settings.warmup if settings.warmup is not None else study.latency_warmup
    per_round = settings.runs_per_round or study.latency_runs_per_round
    baseline_of = {v: study.baseline_of(v) for v in order}
    timing_key = _key([specs[v].content_hash() for v in order], size, settings.device, settings.threads, rounds,
                      per_round, warmup, *([baseline_of] if any(v.baseline for v in study.variants) else []),
                      *([settings.backend] if settings.backend != "eager" else []))
    if not (force or settings.retime) and all(results.get(v).get("timing_key") == timing_key for v in order):
        bar.stage("timed (cached)", advance=len(order))
        return
    tick = time.perf_counter()
    models, x = {}, None
    for name in order:
        bar.stage(f"timing: preparing {name}" + (f" in {settings.backend}" if settings.backend != "eager" else ""))
        models[name], x = prepare(build(specs[name]), (1, 3, *size),
                                  DeploySettings(device=settings.device, backend=settings.backend),
                                  threads=settings.threads)

    def progress(n, total):
        bar.stage(f"timing {len(order)} variants interleaved at {size[0]}x{size[1]} on {settings.device}: "
                  f"turn {n}/{total}")

    timed = measure_interleaved(models, x, rounds=rounds, runs_per_round=per_round, warmup=warmup,
                                threads=settings.threads, cudnn_benchmark=settings.device.startswith("cuda"),
                                per_node=settings.backend == "eager", progress=progress)
    spent = time.perf_counter() - tick
    for name in order:
        stats = timed.stats(name)
        row = dict(results.get(name))
        row.update({"latency_ms_median": stats["median_ms"], "latency_ms_iqr": stats["iqr_ms"], "fps": stats["fps"],
                    "latency_noisy": stats["noisy"], "latency_rounds": rounds, "latency_runs_per_round": per_round,
                    "latency_warmup": warmup, "device": settings.device, "device_name": device_name(settings.device),
                    "cpu_threads": timed.threads, "cpu_allocator": timed.allocator, "dtype": "fp32",
                    "cudnn_benchmark": settings.device.startswith("cuda"), "timing_key": timing_key,
                    "backend": settings.backend, **getattr(models[name], "info", {}),
                    "timing_time_s": spent / len(order)})
        base = baseline_of[name]
        if base in models:
            ratio, fps_ratio = timed.ratio(name, base), timed.fps_ratio(name, base)
            row.update({"latency_ratio": ratio.median, "latency_ratio_p25": ratio.p25, "latency_ratio_p75": ratio.p75,
                        "fps_ratio": fps_ratio.median, "fps_ratio_p25": fps_ratio.p25,
                        "fps_ratio_p75": fps_ratio.p75})
        results.put(name, row, order)
        if name in timed.node_ms:
            _add_node_times(out / "breakdown" / f"{slug(name)}.csv", timed.node_ms[name])
    bar.stage("timed", advance=len(order))


def _add_node_times(breakdown_csv: Path, node_ms: dict[str, float]) -> None:
    """Write each node's time per forward (ms, from the interleaved rounds) and its share into the
    variant's breakdown CSV."""
    if not breakdown_csv.is_file():
        return
    frame = read_csv(breakdown_csv, required=("node",))
    total = sum(node_ms.values())
    frame["latency_ms"] = [node_ms.get(node, 0.0) for node in frame["node"]]
    frame["latency_share"] = frame["latency_ms"] / total if total > 0 else 0.0
    atomic_write_csv(breakdown_csv, frame)


def _check_sizes(study: Study, specs: dict, size, train_size) -> None:
    """Every variant must accept the profiling size and the training size, checked before any work."""
    from archlab.errors import SpecError
    from archlab.graph import validate
    from archlab.study.definition import StudyError

    for name, spec in specs.items():
        for what, hw in (("profiling", size), ("training", train_size)):
            if hw is None:
                continue
            try:
                validate(spec, (1, 3, *hw))
            except SpecError as exc:
                raise StudyError(f"cannot run at the {what} size {hw[0]}x{hw[1]}: {exc}", study=study.name,
                                 variant=name) from None


def _identity(study: Study, variant: Variant, spec, index: int) -> dict:
    return {"study": study.name, "variant": variant.name, "order": index, "base": variant.base or study.base,
            "ops": "; ".join(op.describe() for op in variant.ops) or "(base)", "note": variant.note,
            "spec_hash": spec.content_hash(), "spec_json": spec.to_json()}
