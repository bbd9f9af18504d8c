"""Run a search: workers that ask Optuna for a point, measure it and tell the result, until the
study holds its target number of trials.

Sampler: NSGA-II (Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II",
IEEE TEC 2002) as Optuna's NSGAIISampler, with constraints by constrained-domination: each
trial's ``figure - bound`` values are set with ``Trial.set_constraint`` (Optuna 5.0's
replacement of ``constraints_func``), so infeasible trials are kept, marked, and ranked behind
every feasible one.

``trials`` is the study's target, counted over every worker, machine and earlier run (a stale
trial that was retried is replaced by its retry and not counted): a rerun of the same command
finishes an interrupted search, a larger target extends it. Each worker, under
:func:`archlab.search.storage.study_lock`, fails stale trials, counts, and only then creates a
trial, so the target is met exactly; a worker with nothing left to start waits for the running
trials of others to finish or go stale (their retries are then run), so no trial is lost while
one worker lives.

Devices (``--devices cuda:0,cuda:1`` or ``cpu:0,cpu:1``, :mod:`archlab.devices`): worker ``i``
runs in its own process on ``slot_for(devices, i)``, which it claims first thing
(``claim_slot``: the current CUDA device, or a disjoint share of the cores with one torch
thread per core). Trials run on the slot's kind, which is also the study's stored device
(``cuda``, ``cpu``), so a study's settings compare across slots; each record names the slot
(``worker_device``), the cores the worker could run on (``worker_cores``) and the device that
measured its latency (``device_name``). ``--devices`` alone means one worker per device.

Multi-fidelity (``--fidelity sh``, trained accuracy only): successive halving over the training
budget, :mod:`archlab.search.fidelity`. ``trials`` then counts sampled points (rung 0); the
promotions to higher rungs are trials of their own, and only the full-budget ones are results
(the front, the progress and the export use them alone).

A trial's user attributes: ``spec`` (the network's JSON, set before measuring: rebuild it with
``archlab.build(Spec.from_json(...))``), ``label``, ``record`` (profile figures, accuracy,
constraint values and the measuring settings) and, when it failed, ``error``. A point already
measured in the study is not measured again: its record is copied (``record["cached_from"]``), from
a trial of the same rung only under ``--fidelity sh``.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from archlab.devices import available_cores, worker_threads
from archlab.progress import ProgressBar
from archlab.workers import user_block_modules
from archlab.search import fidelity
from archlab.search import optuna_compat as compat
from archlab.search.objective import Evaluator, Objectives
from archlab.search.space import SearchError, SearchSpace
from archlab.search.storage import (Heartbeat, StorageChoice, copy_default_sqlite, counted_trials, exact_counts,
                                    give_back, open_storage, resolve_storage, study_lock)

DIRECTIONS = ("minimize", "maximize")
ATTR_SETTINGS = "archlab:objectives"
ATTR_SPACE = "archlab:space"
ATTR_FIDELITY = "archlab:fidelity"


@dataclass(frozen=True)
class SearchSettings:
    """How this run searches: the command line's choices."""

    trials: int = 20                     # the study's target number of trials (see the module docs)
    timeout: float | None = None         # seconds after which no new trial is started
    workers: int | None = None           # processes on this machine (None: one per --devices entry, else 1)
    devices: tuple = ()                  # worker slots ("cuda:0", "cpu:1", ...; archlab.devices); () = none
    storage: str | None = None           # None: reports/NAME/study.db (or .journal)
    objective: str | None = None         # accuracy: None (the space's), "miou" or "proxy:NAME"
    metric: str | None = None            # cost: None (the space's), "latency" or "macs"
    latency_budget: float | None = None  # ms: adds a latency_ms constraint
    seeds: int | None = None             # trainings per trial for accuracy "miou" (None: the space's)
    backend: str = "eager"               # latency in eager PyTorch or a deployment runtime (archlab.runtimes)
    device: str | None = None            # None: the kind of --devices, else "cpu"
    threads: int | None = None           # torch threads per worker (None: the slot's cores, or all cores / workers)
    fidelity: str | None = None          # None/"none": every trial trains the full budget; "sh": successive halving
    eta: int | None = None               # successive halving: keep 1/eta per rung (None: 3)
    min_steps: int | None = None         # successive halving: rung 0's steps (None: ceil(B / eta^2))
    bracket: int | None = None           # successive halving: points per bracket (None: eta^(rungs - 1))
    seed: int = 0
    out: Path | None = None              # reports/NAME
    runs_dir: Path | None = None         # runs/search/NAME (training checkpoints)
    heartbeat_interval: int = 20         # seconds between a running trial's heartbeats
    grace_period: int = 60               # seconds without a heartbeat before a trial is stale
    max_retry: int | None = 2            # retries of a stale trial
    poll_s: float = 2.0                  # how often an idle worker looks at the others' running trials
    progress: bool = True

    def out_dir(self, space: SearchSpace) -> Path:
        """Where the report files go: ``out``, or reports/NAME."""
        return Path(self.out) if self.out is not None else Path("reports") / space.name


@dataclass
class SearchResult:
    """What a run did: the study's state after it and what this invocation contributed."""

    study_name: str
    storage: str
    target: int
    trials: int                    # counted trials in the study now (sampled points under --fidelity sh)
    ran: int                       # trials finished by this invocation's workers
    complete: int
    feasible: int
    failed: int
    retried: int
    front: list = field(default_factory=list)    # [(number, cost, accuracy, label)], by cost
    cost_name: str = ""                           # the record columns of the two objectives
    accuracy_name: str = ""
    elapsed_s: float = 0.0
    notes: list = field(default_factory=list)
    final: int = 0                                # complete trials with full-budget figures
    fidelity: str = ""                            # the schedule, described ("" without one)


def objectives_for(space: SearchSpace, settings: SearchSettings) -> Objectives:
    """The objectives of this run: the space's, with the command line's overrides."""
    return Objectives.from_space(space, accuracy=settings.objective, metric=settings.metric,
                                 latency_budget=settings.latency_budget, device=settings.device,
                                 seeds=settings.seeds, backend=settings.backend)


def open_search_study(space: SearchSpace, choice: StorageChoice, objectives: Objectives | None,
                      settings: SearchSettings, *, create: bool = True, storage=None,
                      schedule: "fidelity.Schedule | None" = None):
    """The space's study in the chosen storage (created if ``create``), its settings checked.

    A study remembers the objectives it was measured under, and its fidelity schedule; a run under
    other ones (another ``--objective``, size, device, budget or ``--fidelity``) is refused with the
    difference named. With ``objectives=None`` (export) the stored ones are returned and the
    schedule is not checked. Returns ``(study, storage, objectives)``.
    """
    storage = storage or open_storage(choice, heartbeat_interval=settings.heartbeat_interval,
                                      grace_period=settings.grace_period, max_retry=settings.max_retry)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if create:
            study = optuna.create_study(study_name=space.name, storage=storage, directions=list(DIRECTIONS),
                                        load_if_exists=True)
        else:
            try:
                study = optuna.load_study(study_name=space.name, storage=storage)
            except KeyError:
                raise SearchError(f"no study {space.name!r} in storage {choice.describe()}; run the search first "
                                  f"(python -m archlab.search {space.name})", space=space.name) from None
    stored = study.user_attrs.get(ATTR_SETTINGS)
    if [d.name.lower() for d in study.directions] != list(DIRECTIONS):
        raise SearchError(f"study in {choice.describe()} has directions {[d.name for d in study.directions]}, "
                          f"not {list(DIRECTIONS)}: it was not made by archlab.search", space=space.name)
    if stored is None:
        if objectives is None:
            raise SearchError(f"study in {choice.describe()} has no archlab settings: it was not made by "
                              "archlab.search", space=space.name)
        study.set_user_attr(ATTR_SETTINGS, objectives.settings())
        study.set_user_attr(ATTR_SPACE, {"name": space.name, "fingerprint": space.fingerprint(),
                                         "describe": space.describe()})
        if schedule is not None:
            study.set_user_attr(ATTR_FIDELITY, schedule.settings())
        return study, storage, objectives
    if objectives is None:
        fields = {k: (tuple(v) if k == "size" else v) for k, v in stored.items()}
        return study, storage, Objectives(**fields)
    wanted, defaults = objectives.settings(), Objectives().settings()   # a setting added later: its default
    diff = {k: (stored.get(k, defaults.get(k)), wanted.get(k)) for k in wanted
            if stored.get(k, defaults.get(k)) != wanted.get(k)}
    if diff:
        what = "; ".join(f"{k}: study {a!r}, this run {b!r}" for k, a, b in ((k, *v) for k, v in diff.items()))
        raise SearchError(f"the study in {choice.describe()} was measured under other settings ({what}); run with "
                          f"the study's settings or give another --storage", space=space.name)
    fingerprint = study.user_attrs.get(ATTR_SPACE, {}).get("fingerprint")
    if fingerprint not in (None, space.fingerprint()):
        raise SearchError(f"the study in {choice.describe()} was made from another definition of the space "
                          f"({study.user_attrs[ATTR_SPACE].get('describe')}); give another --storage or restore "
                          f"the definition", space=space.name)
    _check_fidelity(study, choice, space, schedule)
    return study, storage, objectives


def _check_fidelity(study, choice: StorageChoice, space: SearchSpace, schedule) -> None:
    """Refuse a run whose fidelity schedule differs from the study's (a plain study stores none)."""
    stored = study.user_attrs.get(ATTR_FIDELITY)
    wanted = schedule.settings() if schedule is not None else None
    if stored == wanted:
        return

    def say(s):
        return "no --fidelity (every trial trains the full budget)" if s is None else \
            f"--fidelity sh --eta {s['eta']} --min-steps {s['min_steps']} --bracket {s['bracket']} (B {s['max_steps']})"

    raise SearchError(f"the study in {choice.describe()} was run with {say(stored)}, this run asks for {say(wanted)}; "
                      f"run with the study's setting or give another --storage", space=space.name)


def _feasible(trial) -> bool:
    return all(v <= 0 for v in trial.constraints.values())


def front_of(trials) -> list:
    """The feasible non-dominated COMPLETE trials with final (full-budget) figures (cost minimised,
    accuracy maximised), by cost; a point measured by several trials appears once (its first trial)."""
    from archlab.report.pareto import pareto_mask

    done, seen = [], set()
    for t in sorted(trials, key=lambda t: t.number):
        key = tuple(sorted(t.params.items()))
        if (t.state == TrialState.COMPLETE and fidelity.is_final(t) and _feasible(t) and t.values
                and all(math.isfinite(v) for v in t.values) and key not in seen):
            seen.add(key)
            done.append(t)
    if not done:
        return []
    mask = pareto_mask([t.values[0] for t in done], [t.values[1] for t in done])
    return sorted((t for t, m in zip(done, mask) if m), key=lambda t: (t.values[0], t.number))


def _cached_record(study, params: dict, rung_steps: int | None = None):
    """An earlier COMPLETE trial of the same point measured at the same training budget (``rung_steps``:
    None in a study without fidelities): a record is never copied across rungs."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.params == params and "record" in t.user_attrs and t.user_attrs.get("rung_steps") == rung_steps:
            return t
    return None


def run_trial(space: SearchSpace, study, trial, evaluator: Evaluator, *, where: dict | None = None,
              schedule: "fidelity.Schedule | None" = None) -> tuple[TrialState, tuple | None, str]:
    """Suggest, build, measure (or reuse), and set the trial's attributes; returns (state, values, message).

    ``where``: fields naming the worker that measures (``worker_device``, ``worker_cores``), added
    to a record measured here (a copied record keeps those of the trial that measured it).
    ``schedule``: successive halving; the trial is measured at its rung's training steps, a
    promoted trial with its point's cost figures from the rung below (see :mod:`.fidelity`).
    Errors of the point (a spec that does not build, a training that fails) make a FAIL trial
    with the error in its ``error`` user attribute; the search goes on.
    """
    objectives = evaluator.objectives
    params = space.suggest(trial)
    label = space.label(params)
    trial.set_user_attr("label", label)
    rung_steps = trial.user_attrs.get("rung_steps") if schedule is not None else None
    try:
        spec = space.spec(params, validate=False)
        trial.set_user_attr("spec", spec.to_json(indent=None))
        source = _cached_record(study, trial.params, rung_steps)
        if source is not None:
            record = dict(source.user_attrs["record"], cached_from=source.number)
        else:
            parent = _parent(study, trial)
            cost = _cost_of(parent) if parent is not None else None
            tick = time.perf_counter()
            record = evaluator.evaluate(spec, steps=rung_steps, cost=cost)
            record["eval_time_s"] = time.perf_counter() - tick
            record.update(where or {})
            record.setdefault("latency_worker_device", record.get("worker_device"))
        record.update(point=params, label=label, threads=evaluator.threads)
        if schedule is not None:
            _set_rung(trial, record, objectives, _parent(study, trial))
        trial.set_user_attr("record", record)
        compat.set_constraints(trial, record["constraint_values"])
        values = tuple(objectives.values(record))
    except (SearchError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        trial.set_user_attr("error", message)
        return TrialState.FAIL, None, f"{label}: {message}"
    return TrialState.COMPLETE, values, label


def _parent(study, trial):
    """The trial of the rung below a promoted trial (None for a sampled point)."""
    number = trial.user_attrs.get("promoted_from")
    return None if number is None else study.get_trials(deepcopy=False)[number]


def _cost_of(parent) -> dict:
    """A promoted trial's cost figures: those its point's rung-0 trial measured (``profile_from``
    names it; ``latency_worker_device`` the slot whose worker timed it)."""
    rec = parent.user_attrs["record"]
    cost = {k: rec[k] for k in rec["profile_keys"] if k in rec}
    cost.update(profile_time_s=0.0, profile_keys=rec["profile_keys"],
                profile_from=rec.get("profile_from", parent.number),
                latency_worker_device=rec.get("latency_worker_device", rec.get("worker_device")))
    return cost


def _set_rung(trial, record: dict, objectives: Objectives, parent) -> None:
    """The rung fields of a successive-halving trial: in its record, and its ``rung_history``."""
    attrs = trial.user_attrs
    record.update(rung=attrs["rung"], rung_steps=attrs["rung_steps"], rung_final=attrs["rung_final"],
                  bracket=attrs["bracket"], promoted_from=attrs.get("promoted_from"))
    history = list(parent.user_attrs.get("rung_history", [])) if parent is not None else []
    history.append({"rung": attrs["rung"], "steps": attrs["rung_steps"], "trial": trial.number,
                    objectives.accuracy_column: record.get(objectives.accuracy_column)})
    trial.set_user_attr("rung_history", history)


def _sampler(space: SearchSpace, settings: SearchSettings, index: int, start_count: int):
    seed = int(np.random.SeedSequence([settings.seed, index, start_count]).generate_state(1)[0])
    return optuna.samplers.NSGAIISampler(population_size=space.population_size, seed=seed)


def work(space: SearchSpace, settings: SearchSettings, choice: StorageChoice, objectives: Objectives, target: int,
         *, index: int = 0, deadline: float | None = None, on_trial=None, threads: int | None = None,
         slot=None, schedule: "fidelity.Schedule | None" = None) -> int:
    """One worker: run trials until the study holds ``target`` counted trials (sampled points under
    ``schedule``), none is waiting or due for promotion and none is running (or ``deadline``, a
    ``time.time()``, passes). ``slot``: the :class:`archlab.devices.Slot` this process claimed
    (None: ``objectives.device``). Returns how many it finished."""
    study, storage, _ = open_search_study(space, choice, objectives, settings, schedule=schedule)
    study.sampler = _sampler(space, settings, index, len(study.get_trials(deepcopy=False)))
    runs_dir = Path(settings.runs_dir) if settings.runs_dir is not None else Path("runs") / "search" / space.name
    if schedule is not None:        # rung checkpoints of one schedule: never a run another schedule went past
        runs_dir = runs_dir / f"sh-{schedule.key()[:8]}"
    evaluator = Evaluator(objectives, runs_dir=runs_dir, threads=threads)
    where = {"worker_device": slot.name if slot is not None else objectives.device, "worker_cores": available_cores()}
    finished = 0
    while deadline is None or time.time() < deadline:
        trial, running = None, False
        with study_lock(choice, storage, space.name):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            if schedule is not None and fidelity.promote(study, trials, schedule, target):
                trials = study.get_trials(deepcopy=False)
            waiting = any(t.state == TrialState.WAITING for t in trials)
            running = any(t.state == TrialState.RUNNING for t in trials)
            if waiting or len(_targeted(counted_trials(trials), schedule)) < target:
                with compat.heartbeat_ask_warning_ignored():     # "heartbeats are meant for optimize()"
                    trial = study.ask()
                storage.record_heartbeat(compat.trial_id(trial))      # beat before anyone can see it without one
                if schedule is not None:
                    fidelity.start_point(trial, trials, schedule)
        if trial is None:
            if not running:
                break
            time.sleep(settings.poll_s)
            continue
        try:
            with Heartbeat(storage, compat.trial_id(trial), settings.heartbeat_interval):
                state, values, message = run_trial(space, study, trial, evaluator, where=where, schedule=schedule)
            study.tell(trial, values=values, state=state)
        except KeyboardInterrupt:
            give_back(study, trial.number, settings.max_retry)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:     # this worker was too slow to beat (a stalled machine)
            print(f"worker {index}: trial {trial.number} was declared dead by another worker (no heartbeat for "
                  f"{settings.grace_period} s); its retry keeps the point", file=sys.stderr)
            continue
        if state == TrialState.FAIL:
            print(f"trial {trial.number} failed: {message}", file=sys.stderr)
        finished += 1
        if on_trial is not None:
            on_trial(study, trial.number)
    return finished


def _targeted(counted, schedule) -> list:
    """The counted trials that ``--trials`` counts: all of them, or the sampled points under a schedule."""
    return counted if schedule is None else fidelity.sampled(counted)


def _worker_main(space, settings, choice, objectives, target, index, deadline, threads, parent_pid=None, slot=None,
                 schedule=None, block_modules=()):
    """Entry point of a worker process (``--workers K`` or ``--devices``): see
    :func:`archlab.workers.start_worker`, then work."""
    from archlab.workers import start_worker

    start_worker(parent_pid, slot, block_modules, threads)
    try:
        work(space, settings, choice, objectives, target, index=index, deadline=deadline, threads=threads, slot=slot,
             schedule=schedule)
    except KeyboardInterrupt:
        sys.exit(130)


class _Progress:
    """One rich bar on stderr: counted trials finished / target (sampled points under a fidelity
    schedule; a promotion's line names its rung), the final front's size and best accuracy."""

    def __init__(self, enabled: bool, space: SearchSpace, objectives: Objectives, target: int, done: int, trials=(),
                 schedule=None):
        self.space, self.objectives, self.target, self.schedule = space, objectives, target, schedule
        self.bar = ProgressBar(enabled, space.name, target, done=done)
        self.printed = {t.number for t in counted_trials(trials) if t.state.is_finished()}

    def __enter__(self):
        self.bar.__enter__()
        return self

    def update(self, study, number: int | None = None):
        if not self.bar.enabled:
            return
        trials = study.get_trials(deepcopy=False)
        done = sum(1 for t in _targeted(counted_trials(trials), self.schedule) if t.state.is_finished())
        front = front_of(trials)
        o = self.objectives
        unit, scale = ("ms", 1.0) if o.metric == "latency" else ("GMACs", 1e-9)
        best = max(front, key=lambda t: t.values[1]) if front else None
        text = f"{self.space.name} · front {len(front)}"
        if best is not None:
            text += f" · best {o.accuracy_column} {best.values[1]:.4g} @ {best.values[0] * scale:.3g} {unit}"
        self.bar.update(completed=done, description=text)
        if self.bar.plain:      # no live bar (a log file): one line per trial finished since the last look
            counted = {t.number for t in _targeted(counted_trials(trials), self.schedule)}
            promoted = {t.number for t in counted_trials(trials)} - counted
            shown = len({n for n in self.printed if n in counted})
            for t in trials:
                if t.state.is_finished() and t.number not in self.printed:
                    self.printed.add(t.number)
                    position = f"{shown + 1}/{self.target}" if t.number in counted else \
                        f"rung {fidelity.rung_of(t)}, {t.user_attrs.get('rung_steps')} steps" if t.number in promoted \
                        else "retried"
                    shown += t.number in counted
                    if t.state == TrialState.COMPLETE:
                        flag = ("" if _feasible(t) else " (infeasible)") + \
                            (" (latency noisy)" if t.user_attrs.get("record", {}).get("latency_noisy") else "")
                        what = (f"{t.values[0] * scale:.4g} {unit}, {o.accuracy_column} {t.values[1]:.4g}{flag}")
                    else:
                        what = t.state.name + (f": {t.user_attrs['error']}" if "error" in t.user_attrs else "")
                    label = t.user_attrs.get("label", "")
                    self.bar.line(f"[{position}] trial {t.number} {label}: {what}")

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)


def resolve_settings(space: SearchSpace, settings: SearchSettings):
    """The command line's choices checked against each other, before anything is opened: the
    ``--devices`` slots (one kind; ``--device`` omitted or of that kind, which becomes the study's
    device), the number of workers (one per slot by default) and the fidelity schedule.
    Returns ``(settings with device and workers resolved, objectives, slots, schedule)``."""
    from archlab.devices import DeviceError, parse_devices, slot_for
    from archlab.train import TrainConfig

    if not isinstance(settings.trials, int) or settings.trials < 1:
        raise ValueError(f"--trials {settings.trials!r} must be a positive integer")
    if settings.workers is not None and (not isinstance(settings.workers, int) or settings.workers < 1):
        raise ValueError(f"--workers {settings.workers!r} must be a positive integer")
    if settings.timeout is not None and not settings.timeout > 0:
        raise ValueError(f"--timeout {settings.timeout!r} must be a positive number of seconds")
    space.check(build=False)
    devices = parse_devices(list(settings.devices) if settings.devices else None)
    device = settings.device
    if devices:
        kind = devices[0].split(":")[0]
        if device is not None and str(device).split(":")[0] != kind:
            raise DeviceError(f"--device {device} is not of the kind of --devices {','.join(devices)}; with --devices "
                              f"omit --device (trials run on {kind!r}) or give --device {kind}")
        device = kind
    workers = settings.workers if settings.workers is not None else max(1, len(devices))
    settings = replace(settings, device=device or "cpu", workers=workers, devices=tuple(devices))
    objectives = objectives_for(space, settings)
    schedule = fidelity.schedule_for(settings.fidelity, accuracy=objectives.accuracy,
                                     max_steps=TrainConfig(**objectives.train).steps, eta=settings.eta,
                                     min_steps=settings.min_steps, bracket=settings.bracket)
    slots = [slot_for(devices, i) for i in range(workers)] if devices else []
    return settings, objectives, slots, schedule


def run_search(space: SearchSpace, settings: SearchSettings = SearchSettings()) -> SearchResult:
    """Run (or resume, or extend) the search of ``space`` to ``settings.trials`` trials; see the module docs."""
    tick = time.time()
    settings, objectives, slots, schedule = resolve_settings(space, settings)
    out = settings.out_dir(space)
    choice = resolve_storage(settings.storage, out, settings.workers)
    notes = []
    if choice.note:
        notes.append(choice.note)
    if settings.storage is None and copy_default_sqlite(choice, out, space.name):
        notes.append(f"copied the study from {out / 'study.db'} into {choice.path}")
    if settings.workers > 1 and choice.kind == "sqlite":
        notes.append("several processes on one SQLite file: it works with the lock and a 60 s busy timeout, but a "
                     "journal file (--storage journal:PATH) is the safer choice")
    if not exact_counts(choice):
        notes.append(f"{choice.kind} has no lock here: with several workers the trial count may overshoot by up to "
                     f"{settings.workers - 1}")
    if settings.workers > 1 and objectives.needs_latency and settings.device == "cpu":
        if any(slot.cores for slot in slots):
            notes.append(f"{settings.workers} workers time latency at the same time, each on its own cores "
                         "(--devices): they still share caches and memory bandwidth; --workers 1 gives the cleanest "
                         "latency")
        else:
            notes.append(f"{settings.workers} workers time latency at the same time on one CPU: their timings disturb "
                         "each other; use --workers 1 (or --metric macs) for clean latency")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    study, storage, _ = open_search_study(space, choice, objectives, settings, schedule=schedule)
    trials = study.get_trials(deepcopy=False)
    before = sum(1 for t in _targeted(counted_trials(trials), schedule) if t.state.is_finished())
    finished_before = sum(1 for t in counted_trials(trials) if t.state.is_finished())
    target = settings.trials
    deadline = tick + settings.timeout if settings.timeout else None
    if settings.progress:
        more = max(0, target - len(_targeted(counted_trials(trials), schedule)))
        what = "sampled points" if schedule is not None else "trial(s)"
        print(f"{space.name}: study in {choice.describe()} holds {len(trials)} trial(s); target {target} {what}, "
              f"{more} to start" + (f"; {schedule.describe()} (about {schedule.expected_trials(target)} trials over "
                                    f"all rungs)" if schedule is not None else ""), file=sys.stderr)
    ran = 0
    with _Progress(settings.progress, space, objectives, target, before, trials, schedule) as bar:
        if settings.workers == 1 and not slots:
            ran = work(space, settings, choice, objectives, target, deadline=deadline, on_trial=bar.update,
                       threads=worker_threads(settings.threads, settings.workers), schedule=schedule)
        else:
            ran = _run_processes(space, settings, choice, objectives, target, deadline, slots, schedule, study, bar,
                                 notes)
    trials = study.get_trials(deepcopy=False)
    counted = counted_trials(trials)
    if settings.workers > 1 or slots:
        ran = sum(1 for t in counted if t.state.is_finished()) - finished_before
    front = front_of(trials)
    return SearchResult(
        study_name=space.name, storage=choice.describe(), target=target, trials=len(_targeted(counted, schedule)),
        ran=ran, complete=sum(t.state == TrialState.COMPLETE for t in trials),
        feasible=sum(t.state == TrialState.COMPLETE and _feasible(t) for t in trials),
        failed=sum(t.state == TrialState.FAIL for t in counted), retried=len(trials) - len(counted),
        front=[(t.number, t.values[0], t.values[1], t.user_attrs.get("label", "")) for t in front],
        elapsed_s=time.time() - tick, notes=notes, cost_name=objectives.metric_column,
        accuracy_name=objectives.accuracy_column,
        final=sum(t.state == TrialState.COMPLETE and fidelity.is_final(t) for t in trials),
        fidelity=schedule.describe() if schedule is not None else "")


def _run_processes(space, settings, choice, objectives, target, deadline, slots, schedule, study, bar, notes) -> int:
    """Start ``settings.workers`` worker processes (worker i on ``slots[i]`` when there are slots) and
    wait for them, updating the progress bar."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = []
    for i in range(settings.workers):
        slot = slots[i] if slots else None
        procs.append(ctx.Process(
            target=_worker_main, name=f"archlab-search-{i}",
            args=(space, replace(settings, progress=False), choice, objectives, target, i, deadline,
                  worker_threads(settings.threads, settings.workers, slot), os.getpid()),
            kwargs={"slot": slot, "schedule": schedule, "block_modules": user_block_modules()}))
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            bar.update(study)
            time.sleep(1.0)
    finally:
        for p in procs:
            p.join()
    bar.update(study)
    for i, p in enumerate(procs):
        if p.exitcode not in (0, None):
            notes.append(f"worker {i} exited with code {p.exitcode}; a trial it left running is retried once its "
                         f"heartbeat is {settings.grace_period} s old (by a live worker, or the next run)")
            print(f"note: {notes[-1]}", file=sys.stderr)
    return 0
