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

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from archlab.files import file_lock, read_csv, restore_integers, update_csv
from archlab.progress import ProgressBar
from archlab.study.definition import Study
from archlab.study.jobs import StudyRun, apply_result, apply_trainings, run_job



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
    workers: int = 1                  # worker processes on this machine (archlab.study.fanout)
    devices: tuple = ()               # one device per worker: ("cuda:0", "cuda:1") or ("cpu:0", "cpu:1")
    storage: str | None = None        # the shared job store (None: OUT/jobs.journal once fanned out)
    heartbeat_interval: int = 20      # seconds between a running job's heartbeats (fan-out)
    grace_period: int = 60            # seconds without a heartbeat before a job is retried (fan-out)
    max_retry: int = 2                # retries of a job whose worker died

    @property
    def fanned_out(self) -> bool:
        """Whether jobs go through the shared job store (several workers, devices or machines)."""
        return self.workers > 1 or bool(self.devices) or self.storage is not None


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
        """Store ``row`` and rewrite the file under its lock; every other variant's row is kept as the
        file has it then (another process may have written it since this one read the file)."""
        row = row if row.get("variant") == variant else {"variant": variant, **row}
        self.rows[variant] = row

        def merge(current):
            rows = dict(self.rows)
            if current is not None and "variant" in current:    # other variants: as the file has them now
                rows.update({other["variant"]: other for other in current.to_dict("records")})
            rows[variant] = row
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
              runs_dir: Path | None = None, force: bool = False, progress: bool = True, report=None) -> pd.DataFrame:
    """Measure every variant of ``study`` (reusing cached stages) and return the results table.

    ``report(frame)``, when given, writes the report files; it is called once when every job is
    finished (in a fan-out, by whichever run finishes last; see :mod:`archlab.study.fanout`).
    """
    study.check()
    run = prepare_run(study, settings, out=out, runs_dir=runs_dir, force=force)
    if settings.fanned_out:
        from archlab.study.fanout import run_fanout

        return run_fanout(run, progress=progress, report=report)
    with file_lock(run.out / ".study", wait_message=lambda: print(
            f"{study.name}: another process is running this study into {run.out}; waiting for it to finish, then "
            f"reusing what it measured", file=sys.stderr, flush=True)):
        frame = _run_jobs(run, progress)
        if report is not None:
            report(frame)
        return frame


def prepare_run(study: Study, settings: StudySettings, *, out=None, runs_dir=None, force: bool = False,
                threads: int | None = None) -> StudyRun:
    """The resolved run: sizes and budget checked against every variant before any work."""
    from archlab.train import TrainConfig
    from archlab.train.provenance import training_threads

    out = Path(out or Path("reports") / study.name)
    runs_dir = Path(runs_dir or Path("runs") / "studies" / study.name)
    size = tuple(settings.size or study.size)
    config = TrainConfig(**{**study.train, **settings.budget, "device": settings.device})
    specs = {v.name: study.spec(v) for v in study.variants}
    _check_sizes(study, specs, size, config.size if settings.train else None)
    return StudyRun(study, settings, specs, size, config, out, runs_dir,
                    threads=training_threads(threads or settings.threads), force=force)


def _run_jobs(run: StudyRun, progress: bool) -> pd.DataFrame:
    """Every job in turn in this process, each result applied as soon as it is there."""
    if run.force:
        run.start_afresh()
    jobs = run.plan()
    n = len(run.order)
    trainings = sum(j.kind == "train" for j in jobs)
    with StageProgress(progress, 2 * n + trainings, run.study.name) as bar:
        for i, job in enumerate(j for j in jobs if j.kind == "count"):
            where = f"[{i + 1}/{n}] {job.variant}"
            apply_result(run, job, run_job(run, job, bar=bar, where=where))
            bar.stage(f"{where}: counted", advance=1)
        if run.settings.train:
            bar.stage(f"scale check: {run.config.size[0]}x{run.config.size[1]} against {run.size[0]}x{run.size[1]}")
            for job in (j for j in jobs if j.kind == "train"):
                where = f"[{run.order.index(job.variant) + 1}/{n}] {job.variant}, seed {job.seed}"
                apply_result(run, job, run_job(run, job, bar=bar, where=where))
                bar.stage(f"{where}: trained", advance=1)
            apply_trainings(run, jobs)
        (timing,) = [j for j in jobs if j.kind == "timing"]
        result = run_job(run, timing, bar=bar)
        apply_result(run, timing, result)
        bar.stage("timed (cached)" if result["cached"] else "timed", advance=n)
    return run.results().read()


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
