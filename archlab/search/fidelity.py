"""Multi-fidelity trained searches: successive halving over the training budget (``--fidelity sh``).

Optuna's pruners refuse multi-objective studies, so archlab schedules the fidelities itself.
Successive halving (Jamieson & Talwalkar, "Non-stochastic best arm identification and
hyperparameter optimization", AISTATS 2016), in the rung and bracket terms of Hyperband (Li et
al., "Hyperband: a novel bandit-based approach to hyperparameter optimization", JMLR 2018), with
one bracket size rather than Hyperband's several:

* The rungs are the training steps ``b, eta*b, eta^2*b, ...`` that are below the full budget
  ``B`` (the space's ``train["steps"]``), then ``B`` itself: ``--min-steps 7 --eta 3`` with
  ``B = 60`` gives 7, 21, 60. Choose ``b = B / eta^k`` to avoid a last rung that adds few steps.
* Sampled points (the ``--trials`` target; NSGA-II draws them as usual) fall into *brackets* of
  ``n`` consecutive points (``--bracket``, default ``eta^(rungs - 1)``, so that one point of a
  full bracket reaches ``B``). Every point of a bracket is trained to rung 0. Once every trial
  of a rung of a bracket has finished (and the bracket holds all its points), the best
  ``max(1, floor(m / eta))`` of its ``m`` trials are *promoted*: a new trial with the same point
  is queued for the next rung (``study.enqueue_trial``), and so on up to ``B``. Other brackets
  go on meanwhile, so workers are never idle while there are points left to sample.
* "Best" is constrained non-dominated sorting on (cost, accuracy at that rung), as NSGA-II ranks
  (Deb et al., IEEE TEC 2002): feasible trials by non-domination rank, then infeasible ones by
  their total constraint violation. Ties within a rank go to the larger crowding distance (the
  two extremes of a rank first), then the higher accuracy, then the lower trial number. A point
  is promoted once per rung (a duplicate that NSGA-II drew again is skipped).
* A promoted trial *resumes* the training of its point from the rung's checkpoint: rung k+1 costs
  ``steps_{k+1} - steps_k`` steps, not a training from scratch. Its cost figures (latency, MACs,
  parameters) are the point's, measured once at rung 0 (``profile_from`` names that trial).

Every trial is an Optuna trial told its (cost, accuracy at its rung), so NSGA-II learns from the
cheap rungs too. User attributes: ``rung`` (0, 1, ...), ``rung_steps``, ``rung_final`` (whether
``rung_steps == B``), ``bracket``, ``promoted_from`` (the trial of the rung below) and
``rung_history`` (``[{rung, steps, trial, ACCURACY}]`` from rung 0 up to this trial). Only
final trials are results: the front, the hypervolume and the export use them alone; a record is
copied from an earlier trial only at the same rung.

How a training stops at step b of its B-step schedule without a stop argument in
:func:`archlab.train.train` (a stop-gap until it has one): :func:`train_to` calls ``train(spec,
config_with_B_steps, out=run_dir, resume=True, on_step=...)`` with a callback that raises
:class:`_StopAtRung` (a ``KeyboardInterrupt``) after step b; the trainer's loop catches a
``KeyboardInterrupt``, saves a checkpoint at exactly that step and re-raises; the rung's
accuracy is then the evaluation of the checkpointed weights (:func:`evaluate_checkpoint`:
the trainer's own ``evaluate`` and ``miou_fields`` on the config's eval split and length).
Promotion calls ``train()`` again on the same directory, which resumes bit for bit; the last
rung runs it to the end and uses its record, which equals an uninterrupted B-step training's
(the weights' SHA-256 and mIoU; ``tests/archlab/search/test_fidelity.py`` checks it). The
learning rate of a rung is the B-step schedule's (warm-up, then poly decay towards step B), so
a rung's mIoU is that of a model part-way through the full training, not of a shorter
schedule's end. Each rung's evaluation is kept in the run directory (``rungs.json``), so a point
drawn twice, or a retried trial, never trains a rung again.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from optuna.trial import TrialState

from archlab.errors import ArchlabError
from archlab.hashing import digest

KINDS = ("none", "sh")
RUNGS_FILE = "rungs.json"


class FidelityError(ArchlabError):
    """A multi-fidelity setting that cannot be used; the message names the option and what is valid."""


class _StopAtRung(KeyboardInterrupt):
    """Raised by :func:`train_to`'s step callback at the rung's step: the trainer checkpoints there and re-raises."""


# -- the schedule ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Successive halving's settings: ``eta`` (keep 1/eta per rung), ``min_steps`` (rung 0),
    ``max_steps`` (B, the full budget) and ``bracket`` (points per bracket)."""

    eta: int
    min_steps: int
    max_steps: int
    bracket: int

    @classmethod
    def make(cls, *, max_steps: int, eta: int | None = None, min_steps: int | None = None,
             bracket: int | None = None) -> "Schedule":
        """A checked schedule; ``None`` picks the default (eta 3, min-steps ceil(B / eta^2), bracket eta^(rungs-1))."""
        eta = 3 if eta is None else eta
        if not _integer(eta) or eta < 2:
            raise FidelityError(f"--eta {eta!r} must be an integer >= 2 (each rung keeps the best 1/eta)")
        if not _integer(max_steps) or max_steps < 2:
            raise FidelityError(f"the training budget of {max_steps!r} steps is too short to halve (need at least 2)")
        if min_steps is None:
            min_steps = max(1, math.ceil(max_steps / eta ** 2))
        if not _integer(min_steps) or not 0 < min_steps < max_steps:
            raise FidelityError(f"--min-steps {min_steps!r} must be a positive integer below the full budget of "
                                f"{max_steps} steps (the space's train steps)")
        rungs = _rungs(eta, min_steps, max_steps)
        if bracket is None:
            bracket = eta ** (len(rungs) - 1)
        if not _integer(bracket) or bracket < eta:
            raise FidelityError(f"--bracket {bracket!r} must be an integer >= --eta ({eta}): a bracket keeps the "
                                f"best 1/eta of its points at each rung")
        return cls(int(eta), int(min_steps), int(max_steps), int(bracket))

    @property
    def rungs(self) -> tuple[int, ...]:
        """The training steps of each rung: min_steps * eta^k below max_steps, then max_steps."""
        return _rungs(self.eta, self.min_steps, self.max_steps)

    def settings(self) -> dict:
        """JSON-able settings; a study stores them and refuses a run under others."""
        return {"kind": "sh", "eta": self.eta, "min_steps": self.min_steps, "max_steps": self.max_steps,
                "bracket": self.bracket, "rungs": list(self.rungs)}

    def key(self) -> str:
        return digest(self.settings())

    def describe(self) -> str:
        return (f"successive halving: rungs {', '.join(map(str, self.rungs))} steps, eta {self.eta}, "
                f"brackets of {self.bracket} points")

    def expected_trials(self, points: int) -> int:
        """Trials (rung evaluations) a search of ``points`` sampled points makes when nothing fails."""
        total = 0
        for start in range(0, points, self.bracket):
            m = min(self.bracket, points - start)
            for _ in self.rungs:
                total += m
                m = max(1, m // self.eta)
        return total


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rungs(eta: int, min_steps: int, max_steps: int) -> tuple[int, ...]:
    out, steps = [], min_steps
    while steps < max_steps:
        out.append(steps)
        steps *= eta
    return tuple(out) + (max_steps,)


def schedule_for(kind: str | None, *, accuracy: str, max_steps: int, eta=None, min_steps=None,
                 bracket=None) -> Schedule | None:
    """The schedule of ``--fidelity KIND`` (None for ``none``), every option checked against the others."""
    if kind in (None, "none"):
        given = [name for name, value in (("--eta", eta), ("--min-steps", min_steps), ("--bracket", bracket))
                 if value is not None]
        if given:
            raise FidelityError(f"{', '.join(given)} only apply with --fidelity sh")
        return None
    if kind not in KINDS:
        raise FidelityError(f"--fidelity {kind!r} is not known; valid: {', '.join(KINDS)}")
    if accuracy != "miou":
        raise FidelityError(f"--fidelity sh halves a training budget, and the accuracy {accuracy!r} trains nothing; "
                            f"add --objective miou")
    return Schedule.make(max_steps=max_steps, eta=eta, min_steps=min_steps, bracket=bracket)


# -- ranking --------------------------------------------------------------------------------------------


def nondominated_ranks(cost, accuracy) -> np.ndarray:
    """Rank 0 for the non-dominated points (cost minimised, accuracy maximised), 1 for those dominated
    only by rank 0, and so on (Deb et al.'s fast non-dominated sort, quadratic: rungs are small)."""
    c, a = np.asarray(cost, dtype=float), np.asarray(accuracy, dtype=float)
    n = len(c)
    dominated_by = [[j for j in range(n) if c[j] <= c[i] and a[j] >= a[i] and (c[j] < c[i] or a[j] > a[i])]
                    for i in range(n)]
    ranks = np.full(n, -1)
    rank, left = 0, set(range(n))
    while left:
        front = [i for i in left if not any(j in left for j in dominated_by[i])]
        for i in front:
            ranks[i] = rank
        left -= set(front)
        rank += 1
    return ranks


def crowding_distances(cost, accuracy) -> np.ndarray:
    """NSGA-II's crowding distance of each point within its set: the extremes of each objective get
    infinity, the others the sum over objectives of the normalised gap between their neighbours."""
    pts = np.column_stack([np.asarray(cost, dtype=float), np.asarray(accuracy, dtype=float)])
    n = len(pts)
    out = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(2):
        order = np.argsort(pts[:, k], kind="stable")
        span = pts[order[-1], k] - pts[order[0], k]
        out[order[0]] = out[order[-1]] = np.inf
        if span > 0:
            out[order[1:-1]] += (pts[order[2:], k] - pts[order[:-2], k]) / span
    return out


def promotion_order(cost, accuracy, violation=None) -> list[int]:
    """Indices of the points, best first: feasible (total violation <= 0) by non-domination rank, then
    crowding distance (larger first), accuracy (higher first), index; infeasible ones after, by
    violation (smaller first), then accuracy."""
    c, a = np.asarray(cost, dtype=float), np.asarray(accuracy, dtype=float)
    v = np.zeros(len(c)) if violation is None else np.asarray(violation, dtype=float)
    feasible = [i for i in range(len(c)) if v[i] <= 0]
    ranks = nondominated_ranks(c[feasible], a[feasible]) if feasible else np.zeros(0, int)
    crowd = np.zeros(len(c))
    for r in set(ranks.tolist()):
        members = [feasible[k] for k in range(len(feasible)) if ranks[k] == r]
        crowd[members] = crowding_distances(c[members], a[members])
    rank_of = dict(zip(feasible, ranks.tolist()))
    order = sorted(feasible, key=lambda i: (rank_of[i], -crowd[i], -a[i], i))
    order += sorted((i for i in range(len(c)) if v[i] > 0), key=lambda i: (v[i], -a[i], i))
    return order


# -- the trials of a study ------------------------------------------------------------------------------------


def rung_of(trial) -> int:
    """The rung of a trial (0 for a trial of a study without fidelities)."""
    return int(trial.user_attrs.get("rung", 0))


def is_final(trial) -> bool:
    """Whether a trial's figures are final (full budget): every trial of a plain study, the last rung's here."""
    return bool(trial.user_attrs.get("rung_final", True))


def sampled(trials) -> list:
    """The trials that are sampled points (rung 0), of the counted trials given."""
    return [t for t in trials if rung_of(t) == 0]


def start_point(trial, trials, schedule: Schedule) -> None:
    """Mark a freshly asked trial (no rung yet) as a new point at rung 0 of the current bracket;
    a queued promotion or a retry keeps the attributes it was queued with. Call under the study lock."""
    if "rung" in trial.user_attrs:
        return
    from archlab.search.storage import counted_trials

    points = len(sampled(t for t in counted_trials(trials) if t.number != trial.number))
    for key, value in (("rung", 0), ("rung_steps", schedule.rungs[0]), ("rung_final", len(schedule.rungs) == 1),
                       ("bracket", points // schedule.bracket)):
        trial.set_user_attr(key, value)


def due_promotions(trials, schedule: Schedule, target: int) -> list[tuple]:
    """``[(trial, next_rung)]``: the promotions that are due now (see the module docs), in the order to queue them."""
    from archlab.search.storage import counted_trials

    counted = counted_trials(trials)
    groups: dict[tuple[int, int], list] = {}
    for t in counted:
        groups.setdefault((int(t.user_attrs.get("bracket", 0)), rung_of(t)), []).append(t)
    points = len(sampled(counted))
    due = []
    for bracket in sorted({b for b, _ in groups}):
        if not (len(groups.get((bracket, 0), [])) >= schedule.bracket or points >= target):
            continue                                     # the bracket still takes new points
        for rung in range(len(schedule.rungs) - 1):
            members = groups.get((bracket, rung), [])
            if not members or not all(t.state.is_finished() for t in members):
                break
            above = groups.get((bracket, rung + 1), [])
            want = max(1, len(members) // schedule.eta)
            if len(above) >= want:
                continue
            taken = {t.user_attrs.get("promoted_from") for t in above}
            seen = {_key(t.params) for t in above}
            candidates = [t for t in members if t.state == TrialState.COMPLETE and t.number not in taken and t.values
                          and all(math.isfinite(v) for v in t.values)]
            order = promotion_order([t.values[0] for t in candidates], [t.values[1] for t in candidates],
                                    [sum(max(0.0, v) for v in t.constraints.values()) for t in candidates])
            chosen = []
            for i in order:
                if len(above) + len(chosen) >= want:
                    break
                if _key(candidates[i].params) not in seen:
                    seen.add(_key(candidates[i].params))
                    chosen.append(candidates[i])
            due += [(t, rung + 1) for t in chosen]
            if chosen:
                break                                    # the next rung now waits for these
    return due


def promote(study, trials, schedule: Schedule, target: int) -> int:
    """Queue every due promotion (call under the study lock); returns how many were queued."""
    due = due_promotions(trials, schedule, target)
    for parent, rung in due:
        study.enqueue_trial(dict(parent.params), user_attrs={
            "rung": rung, "rung_steps": schedule.rungs[rung], "rung_final": rung == len(schedule.rungs) - 1,
            "bracket": int(parent.user_attrs.get("bracket", 0)), "promoted_from": parent.number})
    return len(due)


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


# -- training to a rung ---------------------------------------------------------------------------------------


def train_to(spec, config, out: Path, steps: int, *, threads: int | None = None) -> dict:
    """Train ``spec`` under ``config`` (its full ``config.steps`` schedule) in ``out`` up to step
    ``steps`` and return the record there (see the module docs for how it stops).

    ``steps >= config.steps`` is the full training (:func:`archlab.train.train`'s own record).
    Otherwise the record has the evaluation of the weights at ``steps``: the accuracy fields of
    :func:`archlab.train.miou_fields`, ``train_steps``, ``train_time_s`` (all steps so far),
    ``weights_sha256``, ``status``. A rung evaluated before (``out/rungs.json``) is not trained
    or evaluated again. The caller holds the directory's lock.
    """
    from archlab.train import train
    from archlab.train.loop import CHECKPOINT_FILE

    out = Path(out)
    if steps >= config.steps:
        return train(spec, config, out=out, progress=False, threads=threads)
    done = _read_rungs(out)
    if str(steps) in done:
        return dict(done[str(steps)], rung_reused=True)
    at = _checkpoint_step(out / CHECKPOINT_FILE)
    if at > steps:
        raise ArchlabError(f"{out} holds a training past step {steps} ({at}) without that rung's evaluation; "
                           f"delete the folder to train the point again")
    if at < steps:
        def stop(done_steps, total, loss):  # noqa: ARG001 - the trainer's on_step signature
            if done_steps >= steps:
                raise _StopAtRung()

        try:
            record = train(spec, config, out=out, resume=True, progress=False, threads=threads, on_step=stop)
        except _StopAtRung:
            pass
        else:       # the run ended before the rung: it diverged (a non-finite loss); its record says so
            _write_rungs(out, {**done, str(steps): record})
            return record
    record = evaluate_checkpoint(out / CHECKPOINT_FILE, config, threads=threads)
    _write_rungs(out, {**_read_rungs(out), str(steps): record})
    return record


def evaluate_checkpoint(path: Path, config, *, threads: int | None = None) -> dict:
    """The record of a training checkpoint's weights evaluated as the trainer evaluates
    (:func:`archlab.evaluate.evaluate_state` on ``config``'s eval split, length, batch, AMP mode and layout)."""
    import time

    import torch

    from archlab.evaluate import evaluate_state
    from archlab.train import checkpoint as ckpt
    from archlab.train.loop import state_digest

    if threads:
        torch.set_num_threads(threads)
    state = ckpt.load(path)
    device = torch.device(config.device)
    amp = ("fp16" if device.type == "cuda" else "off") if config.amp == "auto" else config.amp
    tick = time.perf_counter()
    result = evaluate_state(state, length=config.eval_length, device=device, batch=config.eval_batch, amp=amp,
                            channels_last=config.channels_last)
    module = result.pop("_model")
    for key in ("_dataset", "_size", "model", "step", "miou_dataset", "miou_split", "miou_size"):
        result.pop(key)
    losses = list(state.get("losses", []))
    return {**state.get("identity", {}), "status": "ok", "failure": "", **result,
            "eval_time_s": time.perf_counter() - tick, "train_steps": int(state["step"]),
            "train_time_s": float(state["train_time_s"]),
            "final_loss": float(np.mean(losses[-20:])) if losses else float("nan"),
            "weights_sha256": state_digest(module), "device": device.type}


def _checkpoint_step(path: Path) -> int:
    if not path.is_file():
        return 0
    from archlab.train import checkpoint as ckpt

    return int(ckpt.load(path)["step"])


def _read_rungs(out: Path) -> dict:
    path = Path(out) / RUNGS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}       # written atomically, so only a foreign file: evaluate again


def _write_rungs(out: Path, rungs: dict) -> None:
    from archlab.files import atomic_write

    atomic_write(Path(out) / RUNGS_FILE, json.dumps(rungs, indent=1, sort_keys=True, default=str))
