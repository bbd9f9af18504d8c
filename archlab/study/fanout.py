"""A study's jobs on several worker processes, devices and machines, through one shared job store.

``python -m archlab.study NAME --workers K [--devices cuda:0,cuda:1] [--storage URL]``

The job store is an Optuna storage, the same layer the search uses (:mod:`archlab.search.storage`):
a journal file ``OUT/jobs.journal`` by default (the processes of one machine), PostgreSQL (or any
SQLAlchemy URL) for several machines. It was chosen over a task framework such as Ray because it
already gives, tested against a real PostgreSQL, everything a job queue needs: an atomic claim
(``set_trial_state_values(id, RUNNING)`` succeeds for one process only), heartbeats, failing a
job whose heartbeat went stale and re-queuing it (``RetryHeartbeatStaleTrialCallback``), and a
lock between workers (:func:`~archlab.search.storage.study_lock`); and a study needs no new
service or dependency to fan out.

Layout: one Optuna study per archlab study (``archlab.study:NAME``). Each job
(:class:`archlab.study.jobs.Job`) is a trial, enqueued WAITING with user attributes ``job`` and
``generation`` (``--force`` starts a new generation: every job runs again); a worker claims the
oldest waiting job whose turn it is (the timing job waits until no count or training is
waiting or running, so nothing trains beside the clock), records ``worker`` (host:pid), ``device``
and ``slot`` on it, beats while it runs, and completes it with its ``result`` (the JSON-able dict
of :func:`~archlab.study.jobs.run_job`) and its duration as the trial's value. A job that raises
is FAIL with ``error`` (it is not retried: it would fail again); a job whose worker died is retried
up to ``--max-retry`` times, resuming the training from its checkpoint when the retry runs on the
same machine.

Every run of the command enqueues the jobs of its plan that the store lacks, then starts its
workers. When no job of its plan is waiting or running, it applies every result of the plan to
its own ``OUT`` (:func:`~archlab.study.jobs.apply_all`) and, unless another run already did for
this plan (the study attribute ``reported:<plan digest>``, set under the lock), writes the reports:
so the reports are written once, by the run that finishes last. ``--report`` writes them from the
store at any time; ``--status`` prints the state of the jobs as JSON.
"""
from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
import warnings
from dataclasses import replace

import optuna
from optuna.trial import TrialState

from archlab.devices import available_cores, slot_for, worker_threads
from archlab.hashing import digest
from archlab.progress import ProgressBar
from archlab.search import optuna_compat as compat
from archlab.search.storage import Heartbeat, counted_trials, give_back, open_storage, resolve_storage, study_lock
from archlab.study.jobs import Job, StudyRun, apply_all, apply_result, run_job
from archlab.workers import user_block_modules

STORE_FILE = "jobs.journal"
ATTR_GENERATION = "archlab:generation"
ATTR_PLAN = "archlab:latest_plan"


def store_name(study_name: str) -> str:
    """The Optuna study that holds ``study_name``'s jobs."""
    return f"archlab.study:{study_name}"


class JobStore:
    """The jobs of one study in an Optuna storage: enqueue, claim, complete, read (see the module docs)."""

    def __init__(self, run: StudyRun, *, url: str | None = None, settings=None):
        settings = settings or run.settings
        self.settings = settings
        self.choice = resolve_storage(url or settings.storage or f"journal:{run.out / STORE_FILE}", run.out)
        self.storage = open_storage(self.choice, heartbeat_interval=settings.heartbeat_interval,
                                    grace_period=settings.grace_period, max_retry=settings.max_retry)
        self.name = store_name(run.study.name)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(study_name=self.name, storage=self.storage, directions=["minimize"],
                                         load_if_exists=True)

    def describe(self) -> str:
        return self.choice.describe()

    def lock(self):
        return study_lock(self.choice, self.storage, self.name)

    @property
    def generation(self) -> int:
        return int(self.study.user_attrs.get(ATTR_GENERATION, 0))

    def trials(self, generation: int | None = None) -> list:
        """The counted job trials of ``generation`` (default: the current one): a dead job's retry
        stands for it."""
        generation = self.generation if generation is None else generation
        return [t for t in counted_trials(self.study.get_trials(deepcopy=False))
                if t.user_attrs.get("generation") == generation and "job" in t.user_attrs]

    def enqueue(self, jobs: list[Job], *, threads: int, new_generation: bool = False) -> int:
        """Add the jobs of ``jobs`` the store lacks (waiting, running or complete) and remember them as
        the latest plan (with the training ``threads``, for ``--report``); returns how many were added.
        ``new_generation`` (``--force``): every job anew."""
        with self.lock():
            if new_generation:
                self.study.set_user_attr(ATTR_GENERATION, self.generation + 1)
            self.study.set_user_attr(ATTR_PLAN, {"jobs": [j.to_dict() for j in jobs], "threads": threads})
            have = {t.user_attrs["job"]["key"] for t in self.trials()
                    if t.state in (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)}
            missing = [j for j in jobs if j.key not in have]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                for job in missing:
                    self.study.enqueue_trial({}, user_attrs={"job": job.to_dict(), "generation": self.generation,
                                                             "label": job.label})
        return len(missing)

    def claim(self, jobs: list[Job], worker: dict):
        """The oldest waiting job of ``jobs`` whose turn it is, set RUNNING for ``worker``; or None.
        Returns ``(trial_id, job)``."""
        keys = {j.key for j in jobs}
        with self.lock():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)
            trials = [t for t in self.trials() if t.user_attrs["job"]["key"] in keys]
            busy = any(t.state in (TrialState.WAITING, TrialState.RUNNING) and t.user_attrs["job"]["kind"] != "timing"
                       for t in trials)
            for trial in sorted(trials, key=lambda t: t.number):
                if trial.state != TrialState.WAITING or (trial.user_attrs["job"]["kind"] == "timing" and busy):
                    continue
                trial_id = compat.trial_id(trial)
                if self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    self.storage.record_heartbeat(trial_id)
                    for key, value in worker.items():
                        self.storage.set_trial_user_attr(trial_id, key, value)
                    return trial_id, Job.from_dict(trial.user_attrs["job"])
        return None

    def complete(self, trial_id: int, result: dict, seconds: float) -> None:
        self.storage.set_trial_user_attr(trial_id, "result", _jsonable(result))
        self.storage.set_trial_state_values(trial_id, TrialState.COMPLETE, values=[float(seconds)])

    def fail(self, trial_id: int, error: str) -> None:
        self.storage.set_trial_user_attr(trial_id, "error", error)
        self.storage.set_trial_state_values(trial_id, TrialState.FAIL)

    def give_back(self, trial_id: int) -> None:
        """Ctrl-C during a job: fail it and queue its retry now (:func:`archlab.search.storage.give_back`)."""
        give_back(self.study, self.storage.get_trial(trial_id).number, self.settings.max_retry)

    def states(self, jobs: list[Job]) -> dict[str, object]:
        """Job key -> its counted trial (the latest, when a job was enqueued again after failing)."""
        keys = {j.key for j in jobs}
        out = {}
        for t in sorted(self.trials(), key=lambda t: t.number):
            key = t.user_attrs["job"]["key"]
            if key in keys and not (key in out and out[key].state == TrialState.COMPLETE):
                out[key] = t
        return out

    def active(self, jobs: list[Job]) -> bool:
        """Whether a job of ``jobs`` is waiting or running (anywhere)."""
        return any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in self.states(jobs).values())

    def results(self, jobs: list[Job]) -> dict[str, dict]:
        """Job key -> result, for the jobs of ``jobs`` that completed."""
        return {k: t.user_attrs["result"] for k, t in self.states(jobs).items()
                if t.state == TrialState.COMPLETE and "result" in t.user_attrs}

    def latest_plan(self) -> tuple[list[Job], int]:
        """The jobs and training thread count of the plan last enqueued (``--report``, ``--status``)."""
        plan = self.study.user_attrs.get(ATTR_PLAN)
        if not plan:
            return [], 0
        return [Job.from_dict(d) for d in plan["jobs"]], int(plan["threads"])

    def mark_reported(self, plan: str) -> bool:
        """Claim the writing of the reports of ``plan`` (under the lock): True for the first caller only."""
        key = f"reported:{plan}"
        if self.study.user_attrs.get(key):
            return False
        self.study.set_user_attr(key, {"by": _worker_name(), "at": time.time()})
        return True

    def close(self) -> None:
        engine = getattr(self.storage, "engine", None)
        if engine is not None:
            engine.dispose()


def _jsonable(value):
    """``value`` with numpy scalars as Python numbers and NaN kept (Optuna stores user attributes as JSON)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _worker_name(index: int | None = None) -> str:
    return f"{socket.gethostname()}:{os.getpid()}" + (f"/w{index}" if index is not None else "")


def plan_digest(jobs: list[Job]) -> str:
    return digest([j.key for j in jobs])


def resolve(run: StudyRun) -> StudyRun:
    """Settle what every worker of ``run`` shares: its training thread count (part of every training's
    key) and, with ``--devices``, the device kind its jobs run on (``cuda`` for ``cuda:0,cuda:1``)."""
    from archlab.train.provenance import training_threads

    slot = slot_for(list(run.settings.devices), 0)
    run.threads = training_threads(worker_threads(run.settings.threads, run.settings.workers, slot))
    if slot is not None:
        run.settings = replace(run.settings, device=slot.kind)
        run.config = replace(run.config, device=slot.kind)
    return run


def work(run: StudyRun, index: int, slot=None) -> int:
    """One worker: claim and run jobs of ``run``'s plan until none is waiting or running. Returns how
    many jobs it finished. Its device ``slot`` is claimed by the caller (:func:`_worker_main`)."""
    store = JobStore(run)
    jobs = run.plan()
    worker = {"worker": _worker_name(index), "device": run.settings.device, "slot": slot.name if slot else "",
              "cores": available_cores(), "threads": run.threads}
    done = 0
    try:
        while True:
            claimed = store.claim(jobs, worker)
            if claimed is None:
                if not store.active(jobs):
                    break
                time.sleep(min(2.0, run.settings.heartbeat_interval / 2))
                continue
            trial_id, job = claimed
            tick = time.perf_counter()
            try:
                with Heartbeat(store.storage, trial_id, run.settings.heartbeat_interval):
                    result = run_job(run, job, force=run.force)
            except KeyboardInterrupt:
                store.give_back(trial_id)
                raise
            except Exception as exc:  # noqa: BLE001 - a failing job is recorded and the others go on
                message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                store.fail(trial_id, message)
                print(f"{run.study.name}: job {job.label} failed: {message}", file=sys.stderr, flush=True)
                continue
            try:
                store.complete(trial_id, result, time.perf_counter() - tick)
            except optuna.exceptions.UpdateFinishedTrialError:     # declared dead meanwhile: its retry redoes it
                print(f"{run.study.name}: job {job.label} was declared dead by another worker (no heartbeat for "
                      f"{run.settings.grace_period} s); its retry keeps it", file=sys.stderr, flush=True)
                continue
            apply_result(run, job, result)
            done += 1
    finally:
        store.close()
    return done


def _worker_main(run: StudyRun, index: int, slot, block_modules: list, parent_pid: int) -> None:
    """Entry point of a worker process: :func:`archlab.workers.start_worker`, then work."""
    from archlab.workers import start_worker

    start_worker(parent_pid, slot, block_modules, run.threads)
    try:
        work(run, index, slot)
    except KeyboardInterrupt:
        sys.exit(130)


def run_fanout(run: StudyRun, *, progress: bool = True, report=None):
    """Enqueue the plan, run ``settings.workers`` worker processes with one progress display (a
    worker that dies is replaced while jobs wait), then apply every result here and write the
    reports once (see the module docs)."""
    import multiprocessing

    resolve(run)
    settings, workers = run.settings, run.settings.workers
    if run.force:
        run.start_afresh()
    store = JobStore(run)
    jobs = run.plan()
    added = store.enqueue(jobs, new_generation=run.force, threads=run.threads)
    _note_other_plans(store, jobs, run)
    if progress:
        print(f"{run.study.name}: {len(jobs)} jobs ({added} new) in {store.describe()}; {workers} worker(s) here, "
              f"{run.threads} thread(s) each" + (f", devices {','.join(settings.devices)}" if settings.devices else ""),
              file=sys.stderr, flush=True)
    ctx = multiprocessing.get_context("spawn")
    slots = [slot_for(list(settings.devices), i) for i in range(workers)]
    block_modules = user_block_modules()

    def start(index: int):
        proc = ctx.Process(target=_worker_main, name=f"archlab-study-{index}",
                           args=(run, index, slots[index % workers], block_modules, os.getpid()))
        proc.start()
        return proc


    spare = workers * (settings.max_retry + 1)      # replacements for workers that die (killed, crashed)
    with StatusDisplay(progress, store, jobs, run.study.name) as display:
        procs = [start(i) for i in range(workers)]
        try:
            while any(p.is_alive() for p in procs) or (store.active(jobs) and spare > 0):
                display.update()
                if not any(p.is_alive() for p in procs):
                    spare -= 1
                    procs.append(start(len(procs)))
                time.sleep(1.0)
        finally:
            for p in procs:
                p.join()
        display.update()
    for i, p in enumerate(procs):
        if p.exitcode not in (0, None):
            print(f"note: worker {i} exited with code {p.exitcode}; a job it left running was retried once its "
                  f"heartbeat was {settings.grace_period} s old", file=sys.stderr)
    try:
        if store.active(jobs) and all(p.exitcode not in (0, None) for p in procs):
            from archlab.study.definition import StudyError

            raise StudyError(f"every worker died (exit codes {sorted({p.exitcode for p in procs})}; the errors are "
                             f"above) with jobs left waiting in {store.describe()}; run the same command to go on",
                             study=run.study.name)
        return finish(run, store, jobs, report=report)
    finally:
        store.close()


def finish(run: StudyRun, store: JobStore, jobs: list[Job], *, report=None, force_report: bool = False):
    """Apply every finished result of the plan to this machine's OUT and, if no other run did for
    this plan (or ``force_report``), write the reports. Returns the results table."""
    results = store.results(jobs)
    apply_all(run, jobs, results)
    frame = run.results().read() if (run.out / "results.csv").is_file() else None
    failed = [t for t in store.states(jobs).values() if t.state == TrialState.FAIL]
    for t in failed:
        print(f"note: job {t.user_attrs.get('label')} failed: {t.user_attrs.get('error', 'its worker died')}",
              file=sys.stderr)
    if report is None or frame is None:
        return frame
    if store.active(jobs):
        print(f"note: {sum(1 for t in store.states(jobs).values() if not t.state.is_finished())} job(s) still waiting "
              f"or running elsewhere: no report written here", file=sys.stderr)
        return frame
    with store.lock():
        mine = force_report or store.mark_reported(plan_digest(jobs))
        if mine:
            report(frame)
    if not mine:
        print(f"note: the reports of this plan were written by {_reporter(store, jobs)}; `--report` rewrites them here",
              file=sys.stderr)
    return frame


def _reporter(store: JobStore, jobs: list[Job]) -> str:
    mark = store.study.user_attrs.get(f"reported:{plan_digest(jobs)}") or {}
    return str(mark.get("by", "another run"))


def _note_other_plans(store: JobStore, jobs: list[Job], run: StudyRun) -> None:
    """Warn when the store holds active trainings of the same variant and seed under other keys
    (another machine with another thread count, code or library versions): they are kept apart."""
    mine = {(j.variant, j.seed): j.key for j in jobs if j.kind == "train"}
    others = {(t.user_attrs["job"]["variant"], t.user_attrs["job"]["seed"]) for t in store.trials()
              if t.user_attrs["job"]["kind"] == "train" and t.state in (TrialState.WAITING, TrialState.RUNNING)
              and mine.get((t.user_attrs["job"]["variant"], t.user_attrs["job"]["seed"]), t.user_attrs["job"]["key"])
              != t.user_attrs["job"]["key"]}
    if others:
        print(f"note: {len(others)} training(s) of this study wait or run in {store.describe()} under other training "
              f"determinants (thread count {run.threads} here, code digest or library versions): they are kept apart "
              f"from this run's; give every machine the same --threads and archlab version to share the work",
              file=sys.stderr)


def status(run: StudyRun) -> dict:
    """The state of the plan last enqueued for ``run``'s study, as JSON-able data (``--status``)."""
    store = JobStore(run)
    try:
        jobs, _ = store.latest_plan()
        return summarise(store, jobs)
    finally:
        store.close()


def report_from_store(run: StudyRun, report) -> object:
    """``--report``: apply every finished job of the latest plan here and write the reports now."""
    store = JobStore(run)
    try:
        jobs, run.threads = store.latest_plan()
        if not jobs:
            return None
        return finish(run, store, jobs, report=report, force_report=True)
    finally:
        store.close()


def summarise(store: JobStore, jobs: list[Job]) -> dict:
    """Counts by state and kind, per worker, mean job time by kind and the ETA (seconds)."""
    states = store.states(jobs)
    now = time.time()
    by_state = {"done": 0, "running": 0, "waiting": 0, "failed": 0, "not_enqueued": 0}
    by_kind: dict[str, dict] = {}
    workers: dict[str, dict] = {}
    durations: dict[str, list] = {}
    for job in jobs:
        t = states.get(job.key)
        state = ("not_enqueued" if t is None else "done" if t.state == TrialState.COMPLETE else
                 "running" if t.state == TrialState.RUNNING else "waiting" if t.state == TrialState.WAITING else "failed")
        by_state[state] += 1
        by_kind.setdefault(job.kind, {k: 0 for k in by_state})[state] += 1
        if t is not None and t.state == TrialState.COMPLETE and t.values and not t.user_attrs.get("result", {}).get("cached"):
            durations.setdefault(job.kind, []).append(float(t.values[0]))
        if t is not None and "worker" in t.user_attrs:
            w = workers.setdefault(t.user_attrs["worker"], {"worker": t.user_attrs["worker"], "slot": t.user_attrs.get(
                "slot", ""), "done": 0, "failed": 0, "running": None})
            if state == "done":
                w["done"] += 1
            elif state == "failed":
                w["failed"] += 1
            elif state == "running":
                started = t.datetime_start.timestamp() if t.datetime_start else now
                w["running"] = {"job": job.label, "for_s": round(now - started, 1)}
    mean = {k: sum(v) / len(v) for k, v in durations.items() if v}
    remaining = sum(mean.get(j.kind, _fallback(mean)) for j in jobs
                    if states.get(j.key) is None or not states[j.key].state.is_finished())
    active = max(1, sum(1 for w in workers.values() if w["running"]))
    eta = remaining / active if not math.isnan(remaining) else None
    return {"study_store": store.name, "storage": store.describe(), "generation": store.generation, "jobs": len(jobs),
            **by_state, "by_kind": by_kind, "workers": sorted(workers.values(), key=lambda w: w["worker"]),
            "mean_job_s": {k: round(v, 2) for k, v in mean.items()},
            "eta_s": None if eta is None else round(eta, 1),
            "reported": bool(store.study.user_attrs.get(f"reported:{plan_digest(jobs)}"))}


def _fallback(mean: dict) -> float:
    return max(mean.values()) if mean else math.nan


class StatusDisplay:
    """One progress display for every worker of the plan (this machine's and others'): jobs done /
    running / failed, what each worker runs, the ETA; in a log, one line per finished job."""

    def __init__(self, enabled: bool, store: JobStore, jobs: list[Job], name: str):
        self.store, self.jobs, self.name = store, jobs, name
        self.bar = ProgressBar(enabled, name, len(jobs))
        self.seen: set[str] = set()

    def __enter__(self):
        self.bar.__enter__()
        return self

    def update(self) -> None:
        if not self.bar.enabled:
            return
        s = summarise(self.store, self.jobs)
        running = "; ".join(f"{w['slot'] or w['worker'].rsplit('/', 1)[-1]}: {w['running']['job']}"
                            for w in s["workers"] if w["running"])
        eta = f" · ETA {_minutes(s['eta_s'])}" if s["eta_s"] else ""
        self.bar.update(completed=s["done"] + s["failed"],
                        description=f"{self.name}: {s['done']} done, {s['running']} running, {s['failed']} failed"
                                    f"{eta}" + (f" · {running}" if running else ""))
        if self.bar.plain:
            for key, t in self.store.states(self.jobs).items():
                if t.state.is_finished() and key not in self.seen:
                    self.seen.add(key)
                    what = "done" if t.state == TrialState.COMPLETE else f"FAILED: {t.user_attrs.get('error', '')}"
                    self.bar.line(f"{self.name}: {t.user_attrs.get('label')} {what} "
                                  f"({t.user_attrs.get('slot') or t.user_attrs.get('worker', '')})")

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)


def _minutes(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"
