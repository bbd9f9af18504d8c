"""A study as jobs: what each piece of work is, how it runs, and how its result is kept.

Three kinds of job, each with the cache key its result is stored under:

============ ================== ==========================================================
``count``    one per variant    parameters and every counter's MACs, total and per node
                                (key ``profile_key``: spec hash + size)
``train``    variant x seed     one proxy training (key ``train_key``: spec hash, training
                                settings with the seed, thread count, code digest, libraries)
``timing``   one per study      every variant timed in the same interleaved rounds (key
                                ``timing_key``); it waits until every other job is finished,
                                so no training shares the machine with the clock
============ ================== ==========================================================

:func:`run_job` computes a job's result, a JSON-able dict (or finds it in OUT's cache files:
``results.csv``, ``seeds.csv``, ``breakdown/``); :func:`apply_result` writes a result into those
files. A single-process study does both for each job in turn (:mod:`archlab.study.runner`);
fan-out workers (:mod:`archlab.study.fanout`) run jobs, keep each result in the shared job store
and apply it locally, and the run that finishes last applies every result on its machine
(:func:`apply_all`) and writes the reports. The same functions in both cases are what make a
fan-out's results equal a single process's.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from archlab.files import atomic_write_csv, read_csv
from archlab.hashing import digest
from archlab.study.definition import Study, Variant
from archlab.study.seeds import SEEDS_FILE, SeedResults, aggregate, train_key, train_one

KINDS = ("count", "train", "timing")
PROFILE_FIELDS = ("params", "macs_fvcore", "macs_thop", "macs_ptflops", "flops_torch", "macs_reconciled", "input_size",
                  "torch_version")
TIMING_FIELDS = ("latency_ms_median", "latency_ms_iqr", "fps", "latency_noisy", "latency_rounds",
                 "latency_runs_per_round", "latency_warmup", "latency_ratio", "latency_ratio_p25",
                 "latency_ratio_p75", "fps_ratio", "fps_ratio_p25", "fps_ratio_p75", "device", "device_name",
                 "cpu_threads", "cpu_allocator", "dtype", "cudnn_benchmark", "timing_key", "timing_time_s", "backend",
                 "backend_version", "opset", "precision", "backend_threads", "max_abs_error",
                 "adaptive_pools_rewritten")


def slug(name: str) -> str:
    """A variant name as a file name: ``FASSD-Net + ASPP`` -> ``fassd_net_aspp``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "variant"


@dataclass(frozen=True)
class Job:
    """One piece of a study's work: ``kind`` (one of :data:`KINDS`), the variant and seed it is
    about (None where the kind has none) and the key its result is cached under."""

    kind: str
    variant: str | None
    seed: int | None
    key: str

    @property
    def label(self) -> str:
        """``train half s1``, ``count half``, ``timing``: for progress lines and the status."""
        return " ".join(str(p) for p in (self.kind, self.variant, None if self.seed is None else f"s{self.seed}")
                        if p is not None)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "variant": self.variant, "seed": self.seed, "key": self.key}

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(data["kind"], data.get("variant"), data.get("seed"), data["key"])


@dataclass
class StudyRun:
    """Everything a job needs: the study, this run's settings and the resolved sizes, budget,
    specs and directories. ``threads``: the CPU thread count every training runs with (part of its key)."""

    study: Study
    settings: object                  # archlab.study.runner.StudySettings
    specs: dict
    size: tuple
    config: object                    # archlab.train.TrainConfig, the study's budget on this run's device
    out: Path
    runs_dir: Path
    threads: int
    force: bool = False
    order: list = field(default_factory=list)

    def __post_init__(self):
        self.order = [v.name for v in self.study.variants]

    @property
    def seeds(self) -> list[int]:
        """The seeds this run trains: ``0 .. n-1`` with n from ``--seeds`` or the study's ``seeds``."""
        return list(range(self.settings.seeds or self.study.seeds))

    def variant(self, name: str) -> Variant:
        return next(v for v in self.study.variants if v.name == name)

    def baseline_of(self) -> dict:
        return {v: self.study.baseline_of(v) for v in self.order}

    def timing_settings(self) -> tuple[int, int, int]:
        """(rounds, forwards per variant per round, warm-up forwards) of the timing job."""
        s, study = self.settings, self.study
        return (s.runs or study.latency_runs, s.runs_per_round or study.latency_runs_per_round,
                s.warmup if s.warmup is not None else study.latency_warmup)

    def plan(self) -> list[Job]:
        """Every job of this run, in the order a single process runs them: counts, then trainings
        seed-major (every variant of seed 0 first), then the timing."""
        jobs = [Job("count", v, None, digest((self.specs[v].content_hash(), self.size))) for v in self.order]
        if self.settings.train:
            for seed in self.seeds:
                cfg = replace(self.config, seed=seed)
                jobs += [Job("train", v, seed, train_key(self.specs[v].content_hash(), cfg, self.threads))
                         for v in self.order]
        return jobs + [Job("timing", None, None, self.timing_key())]

    def timing_key(self) -> str:
        rounds, per_round, warmup = self.timing_settings()
        s = self.settings
        return digest((
            [self.specs[v].content_hash() for v in self.order], self.size, s.device, s.threads, rounds, per_round,
            warmup, *([self.baseline_of()] if any(v.baseline for v in self.study.variants) else []),
            *([s.backend] if s.backend != "eager" else [])))

    def results(self, fresh: bool = False):
        from archlab.study.runner import ResultsFile

        return ResultsFile(self.out / "results.csv", fresh=fresh)

    def seed_store(self, fresh: bool = False) -> SeedResults:
        return SeedResults(self.out / SEEDS_FILE, fresh=fresh)

    def start_afresh(self) -> None:
        """``--force``: empty results.csv and seeds.csv, so every job is measured again."""
        self.results(fresh=True)
        self.seed_store(fresh=True)

    def breakdown_csv(self, variant: str) -> Path:
        return self.out / "breakdown" / f"{slug(variant)}.csv"


def run_job(run: StudyRun, job: Job, *, bar=None, where: str = "", force: bool | None = None) -> dict:
    """Compute ``job``'s result, or read it from OUT's cache files when its key matches (unless
    ``force``, default ``run.force``); ``{"cached": bool, ...}`` with the kind's fields."""
    force = run.force if force is None else force
    if job.kind == "count":
        return _count_job(run, job, force, bar, where)
    if job.kind == "train":
        return _train_job(run, job, force, bar, where)
    if job.kind == "timing":
        return _timing_job(run, job, force, bar)
    raise ValueError(f"unknown job kind {job.kind!r}; valid: {', '.join(KINDS)}")


def apply_result(run: StudyRun, job: Job, result: dict) -> None:
    """Write ``job``'s ``result`` into OUT's files (idempotent: applying it again changes nothing)."""
    if job.kind == "count":
        results = run.results()
        index = run.order.index(job.variant) + 1
        row = dict(results.get(job.variant))
        spec = run.specs[job.variant]
        if row.get("spec_hash") != spec.content_hash():
            row = {}
        row.update(_identity(run.study, run.variant(job.variant), spec, index))
        row.update(run.study.published(run.variant(job.variant)))
        row.update(result["row"])
        row["profile_key"] = job.key
        results.put(job.variant, row, run.order)
        if not result.get("cached"):
            import pandas as pd

            atomic_write_csv(run.breakdown_csv(job.variant), pd.DataFrame(result["breakdown"]))
    elif job.kind == "train":
        store = run.seed_store()
        if store.get(job.key) is None or not result.get("cached"):
            store.put(result["row"])
    elif job.kind == "timing":
        results = run.results()
        for name in run.order:
            if not results.get(name):      # not counted on this machine yet: applied again when it is
                continue
            results.put(name, {**results.get(name), **result["rows"][name]}, run.order)
            if not result.get("cached") and name in result.get("node_ms", {}):
                _add_node_times(run.breakdown_csv(name), result["node_ms"][name])


def apply_trainings(run: StudyRun, jobs: list[Job]) -> None:
    """After the trainings of ``jobs``: the scale check and each variant's mean mIoU, interval and
    paired difference over its seeds, into ``results.csv`` (timing fields kept)."""
    results = run.results()
    for name, fields in _scale_fields(run).items():
        results.put(name, {**results.get(name), **fields}, run.order)
    store = run.seed_store()
    trained = {(j.variant, j.seed): store.get(j.key) for j in jobs if j.kind == "train"}
    trained = {k: row for k, row in trained.items() if row is not None}
    for name, fields in aggregate(trained, run.order, run.seeds, run.baseline_of()).items():
        old = results.get(name)
        timing = {k: v for k, v in old.items() if k in TIMING_FIELDS}
        row = {k: v for k, v in old.items() if k not in timing and k not in fields
               and not k.startswith(("iou_", "train_", "miou"))}
        results.put(name, {**row, **fields, **timing}, run.order)


def apply_all(run: StudyRun, jobs: list[Job], results: dict) -> None:
    """Apply every finished job's result (``results``: job key -> result) in a single process's order."""
    for job in jobs:
        if job.kind == "count" and job.key in results:
            apply_result(run, job, results[job.key])
    if any(job.kind == "train" for job in jobs):
        for job in jobs:
            if job.kind == "train" and job.key in results:
                apply_result(run, job, results[job.key])
        apply_trainings(run, jobs)
    for job in jobs:
        if job.kind == "timing" and job.key in results:
            apply_result(run, job, results[job.key])


def _count_job(run: StudyRun, job: Job, force: bool, bar, where: str) -> dict:
    from archlab.profile import profile

    row = run.results().get(job.variant)
    breakdown = run.breakdown_csv(job.variant)
    if not force and row.get("profile_key") == job.key and breakdown.is_file():
        fields = {k: row[k] for k in (*PROFILE_FIELDS, "profile_time_s") if k in row}
        return {"cached": True, "row": fields, "breakdown": read_csv(breakdown).to_dict("records")}
    if bar:
        bar.stage(f"{where}: counting at {run.size[0]}x{run.size[1]}")
    tick = time.perf_counter()
    result = profile(run.specs[job.variant], (1, 3, *run.size), breakdown=True, latency=False, memory=False)
    fields = {k: result.record.get(k) for k in PROFILE_FIELDS if k in result.record}
    fields["profile_time_s"] = time.perf_counter() - tick
    frame = result.per_node.rename_axis("node").reset_index()
    return {"cached": False, "row": fields, "breakdown": frame.to_dict("records")}


def _train_job(run: StudyRun, job: Job, force: bool, bar, where: str) -> dict:
    cached = None if force else run.seed_store().get(job.key)
    if cached is not None:
        return {"cached": True, "row": cached}
    cfg = replace(run.config, seed=job.seed)
    row = train_one(run.specs[job.variant], job.variant, run.order.index(job.variant) + 1, cfg, run.runs_dir,
                    threads=run.threads, force=force, bar=bar, where=where)
    if row["train_key"] != job.key:
        raise RuntimeError(f"training {job.label}: trained under key {row['train_key']} but planned as {job.key} "
                           f"(the thread count or code changed during the run)")
    return {"cached": False, "row": row}


def _timing_job(run: StudyRun, job: Job, force: bool, bar) -> dict:
    """Time every variant together in interleaved rounds (unless the cached timing matches)."""
    from archlab.graph import build
    from archlab.profile.deploy import DeploySettings, prepare
    from archlab.profile.interleaved import measure_interleaved
    from archlab.profile.record import device_name

    settings, order, size = run.settings, run.order, run.size
    results = run.results()
    if not (force or settings.retime) and all(results.get(v).get("timing_key") == job.key for v in order):
        return {"cached": True, "rows": {v: {k: x for k, x in results.get(v).items() if k in TIMING_FIELDS}
                                         for v in order}}
    rounds, per_round, warmup = run.timing_settings()
    baseline_of = run.baseline_of()
    tick = time.perf_counter()
    models, x = {}, None
    for name in order:
        if bar:
            bar.stage(f"timing: preparing {name}" + (f" in {settings.backend}" if settings.backend != "eager" else ""))
        models[name], x = prepare(build(run.specs[name]), (1, 3, *size),
                                  DeploySettings(device=settings.device, backend=settings.backend),
                                  threads=settings.threads)

    def progress(n, total):
        if bar:
            bar.stage(f"timing {len(order)} variants interleaved at {size[0]}x{size[1]} on {settings.device}: "
                      f"turn {n}/{total}")

    timed = measure_interleaved(models, x, rounds=rounds, runs_per_round=per_round, warmup=warmup,
                                threads=settings.threads, cudnn_benchmark=settings.device.startswith("cuda"),
                                per_node=settings.backend == "eager", progress=progress)
    spent = time.perf_counter() - tick
    rows = {}
    for name in order:
        stats = timed.stats(name)
        row = {"latency_ms_median": stats["median_ms"], "latency_ms_iqr": stats["iqr_ms"], "fps": stats["fps"],
               "latency_noisy": stats["noisy"], "latency_rounds": rounds, "latency_runs_per_round": per_round,
               "latency_warmup": warmup, "device": settings.device, "device_name": device_name(settings.device),
               "cpu_threads": timed.threads, "cpu_allocator": timed.allocator, "dtype": "fp32",
               "cudnn_benchmark": settings.device.startswith("cuda"), "timing_key": job.key,
               "backend": settings.backend, **getattr(models[name], "info", {}), "timing_time_s": spent / len(order)}
        base = baseline_of[name]
        if base in models:
            ratio, fps_ratio = timed.ratio(name, base), timed.fps_ratio(name, base)
            row.update({"latency_ratio": ratio.median, "latency_ratio_p25": ratio.p25, "latency_ratio_p75": ratio.p75,
                        "fps_ratio": fps_ratio.median, "fps_ratio_p25": fps_ratio.p25,
                        "fps_ratio_p75": fps_ratio.p75})
        rows[name] = row
    return {"cached": False, "rows": rows, "node_ms": {n: dict(timed.node_ms[n]) for n in order if n in timed.node_ms}}


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


def _scale_fields(run: StudyRun) -> dict[str, dict]:
    """Per variant, the blocks a proxy training at the training size cannot judge (their reach
    exceeds their map there but not at the study's size), and the smallest input at which no variant has one."""
    from archlab.study import scale

    specs, order, train_size, size = run.specs, run.order, run.config.size, run.size
    flags = {name: scale.summarise(specs[name], scale.scale_flags(specs[name], train_size, size)) for name in order}
    clean = scale.smallest_clean_size([specs[n] for n in order], train_size, size) if any(flags.values()) \
        else tuple(train_size)
    clean_text = f"{clean[0]}x{clean[1]}" if clean else f"none up to {size[0]}x{size[1]}"
    return {name: {"scale_flags": "; ".join(flags[name]), "scale_clean_size": clean_text,
                   "scale_checked_at": f"{train_size[0]}x{train_size[1]} vs {size[0]}x{size[1]}"} for name in order}


def _identity(study: Study, variant: Variant, spec, index: int) -> dict:
    return {"study": study.name, "variant": variant.name, "order": index, "base": variant.base or study.base,
            "ops": "; ".join(op.describe() for op in variant.ops) or "(base)", "note": variant.note,
            "spec_hash": spec.content_hash(), "spec_json": spec.to_json()}
