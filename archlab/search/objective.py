"""What a trial measures: a cost to minimise, an accuracy to maximise, and the constrained figures.

The cost is the median latency of one image at the space's size on the device
(:func:`archlab.profile`, ``latency_ms_median``) or its fvcore MACs (``macs_fvcore``). The
accuracy is a zero-cost proxy (:mod:`archlab.proxies`; e.g. NASWOT, Mellor et al., ICML 2021) on a
fixed batch, or the mIoU of a short training (:func:`archlab.train.train`) used as a proxy of the
full one. Constraints are upper bounds; a trial's constraint value is ``figure - bound`` (feasible
when every value is <= 0), the convention of Optuna's constrained NSGA-II (Deb et al., IEEE TEC
2002, constrained-domination).

:class:`Objectives` is the settings (plain, comparable data: a study is measured under one);
:class:`Evaluator` measures specs under them and returns flat records.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from archlab.profile.latency import NoisyLatencyWarning
from archlab.search.space import CONSTRAINTS, METRICS, SearchSpace, parse_accuracy
from archlab.hashing import digest

#: Record column of each cost metric.
METRIC_COLUMNS = {"latency": "latency_ms_median", "macs": "macs_fvcore"}
#: Profile figures kept in a trial's record (spec_json is stored on its own).
PROFILE_DROP = ("spec_json",)
TRAIN_DROP = ("confusion", "spec_json", "train_config", "model", "spec_hash", "device", "device_name", "threads",
              "torch_version", "archlab_version", "date", "params")


@dataclass(frozen=True)
class Objectives:
    """The measuring settings of a study: every trial and every reference point is measured under these."""

    metric: str = "latency"
    accuracy: str = "proxy:naswot"
    size: tuple = (256, 512)
    device: str = "cpu"
    latency_runs: int = 5
    latency_warmup: int = 1
    proxy: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    constraints: dict = field(default_factory=dict)
    hook: str | None = None
    seeds: int = 1          # trainings per trial for accuracy "miou" (seeds 0..n-1, the studies' pairing)
    backend: str = "eager"  # where latency is measured: eager PyTorch or a runtime of archlab.runtimes

    @classmethod
    def from_space(cls, space: SearchSpace, *, accuracy: str | None = None, metric: str | None = None,
                   latency_budget: float | None = None, device: str = "cpu",
                   seeds: int | None = None, backend: str = "eager") -> "Objectives":
        """The space's objectives with the command line's overrides (``--objective``, ``--latency-budget``, ...)."""
        accuracy = accuracy or space.accuracy
        parse_accuracy(accuracy)
        metric = metric or space.metric
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
        constraints = {k: v for k, v in space.constraints.items() if v is not None}
        if latency_budget is not None:
            if not (isinstance(latency_budget, (int, float)) and latency_budget > 0 and math.isfinite(latency_budget)):
                raise ValueError(f"--latency-budget {latency_budget!r} must be a positive number of milliseconds")
            constraints["latency_ms"] = float(latency_budget)
        return cls(metric=metric, accuracy=accuracy, size=tuple(space.size), device=device,
                   latency_runs=space.latency_runs, latency_warmup=space.latency_warmup,
                   proxy=dict(space.proxy), train=dict(space.train), constraints=constraints,
                   hook=space.objective_hook, seeds=int(seeds or space.seeds), backend=backend)

    @property
    def metric_column(self) -> str:
        return METRIC_COLUMNS[self.metric]

    @property
    def accuracy_column(self) -> str:
        kind, name = parse_accuracy(self.accuracy)
        return "miou" if kind == "miou" else f"proxy_{name}"

    @property
    def needs_latency(self) -> bool:
        return self.metric == "latency" or "latency_ms" in self.constraints

    def settings(self) -> dict:
        """JSON-able settings; a study stores them and refuses a run under different ones."""
        return json.loads(json.dumps(asdict(self), default=list))

    def key(self) -> str:
        return digest(self.settings())

    def constraint_values(self, record: dict) -> dict[str, float]:
        """``{name: figure - bound}`` for every bound (<= 0 is feasible); a missing figure counts as violated."""
        figures = {"params_M": _get(record, "params", 1e-6), "latency_ms": _get(record, "latency_ms_median"),
                   "gmacs": _get(record, "macs_fvcore", 1e-9)}
        out = {}
        for name, bound in self.constraints.items():
            if name not in CONSTRAINTS:
                raise ValueError(f"unknown constraint {name!r}; valid: {', '.join(CONSTRAINTS)}")
            value = figures[name]
            out[name] = (value - bound) if value is not None and math.isfinite(value) else math.inf
        return out

    def values(self, record: dict) -> tuple[float, float]:
        """The two objective values ``(cost, accuracy)`` of a record; a non-finite accuracy becomes -inf."""
        cost = float(record[self.metric_column])
        accuracy = record.get(self.accuracy_column)
        accuracy = float(accuracy) if accuracy is not None and math.isfinite(float(accuracy)) else -math.inf
        return cost, accuracy


def _get(record, key, scale=1.0):
    value = record.get(key)
    return None if value is None else float(value) * scale


def _jsonable(value):
    """Plain Python data (numpy scalars, tuples and paths turned into JSON types)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def load_hook(path: str):
    """``"module:function"`` -> the function (ValueError naming the part that is missing)."""
    module_name, _, attr = str(path).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"objective_hook {path!r}: cannot import {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"objective_hook {path!r}: {module_name} has no function {attr!r}")
    return fn


@contextlib.contextmanager
def _dir_lock(directory: Path):
    """An exclusive lock on a training directory (two workers never train into the same one at once)."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Evaluator:
    """Measures specs under :class:`Objectives`; one per process (it keeps the proxy batch).

    ``runs_dir``: where short trainings keep their checkpoints, one directory per (spec, budget),
    so a retried trial resumes its training. ``threads``: torch CPU threads (None: torch's default).
    """

    def __init__(self, objectives: Objectives, *, runs_dir: Path | None = None, threads: int | None = None):
        self.objectives = objectives
        self.runs_dir = Path(runs_dir) if runs_dir is not None else Path("runs") / "search"
        self.threads = threads
        self._batch = None
        self._hook = load_hook(objectives.hook) if objectives.hook else None

    def proxy_batch(self):
        if self._batch is None:
            import torch

            from archlab.proxies import proxy_batch

            p = self.objectives.proxy
            images, labels = proxy_batch(p.get("dataset", "synthstreets"), tuple(p.get("size", (64, 128))),
                                         p.get("batch", 8), p.get("seed", 0), root=p.get("root"))
            device = torch.device(self.objectives.device)
            self._batch = (images.to(device), labels.to(device))
        return self._batch

    def evaluate(self, spec, *, steps: int | None = None, cost: dict | None = None) -> dict:
        """Profile ``spec`` and measure its accuracy; returns the flat record (profile figures, accuracy,
        constraint values, settings). Raises what profiling or training raise.

        ``steps``: with accuracy ``miou``, train only to this step of the budget's schedule and
        evaluate there (a rung of successive halving, :mod:`archlab.search.fidelity`); None trains
        the whole budget. ``cost``: the profile figures of this spec measured before (a promoted
        rung), used instead of profiling again.
        """
        record = dict(cost) if cost is not None else self.measure_cost(spec)
        record.update(self.measure_accuracy(spec, steps=steps))
        return self.finish(spec, record)

    def measure_cost(self, spec) -> dict:
        """The profile figures of ``spec`` (latency and counts, as the objectives ask), and
        ``profile_keys``: the names of those figures, so a later rung can reuse exactly them."""
        from archlab.profile import profile

        o = self.objectives
        self._set_threads()
        tick = time.perf_counter()
        with warnings.catch_warnings():         # the record says it (latency_noisy, latency_warning)
            warnings.simplefilter("ignore", NoisyLatencyWarning)
            record = profile(spec, (1, 3, *o.size), latency=o.needs_latency, memory=False, runs=o.latency_runs,
                             warmup=o.latency_warmup, device=o.device, threads=self.threads,
                             backend=o.backend if o.needs_latency else "eager").record
        record = {k: v for k, v in record.items() if k not in PROFILE_DROP}
        record["profile_time_s"] = time.perf_counter() - tick
        record["profile_keys"] = sorted(record)
        return record

    def measure_accuracy(self, spec, *, steps: int | None = None) -> dict:
        """The accuracy figures of ``spec``: the proxy's score, or the training's mIoU (to ``steps``
        when given, see :meth:`evaluate`), and ``accuracy_time_s``."""
        self._set_threads()
        tick = time.perf_counter()
        kind, name = parse_accuracy(self.objectives.accuracy)
        if kind == "proxy":
            if steps is not None:
                raise ValueError(f"a training budget of {steps} steps was asked for accuracy "
                                 f"{self.objectives.accuracy!r}, which trains nothing")
            from archlab.proxies import score

            images, labels = self.proxy_batch()
            record = {self.objectives.accuracy_column: score(name, spec, images, labels,
                                                            seed=self.objectives.proxy.get("seed", 0))}
        else:
            record = self._train(spec, steps=steps)
        record["accuracy_time_s"] = time.perf_counter() - tick
        return record

    def finish(self, spec, record: dict) -> dict:
        """``record`` completed: the objective hook, objective and constraint values, feasibility and settings."""
        o = self.objectives
        if self._hook is not None:
            changed = self._hook(spec, record)
            record = record if changed is None else changed
        record["metric"], record["accuracy"] = o.metric_column, o.accuracy_column
        record["objective_values"] = list(o.values(record))
        record["constraint_values"] = o.constraint_values(record)
        record["feasible"] = all(v <= 0 for v in record["constraint_values"].values())
        record["settings"] = o.settings()
        return _jsonable(record)

    def _set_threads(self) -> None:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)

    def _train(self, spec, steps: int | None = None) -> dict:
        """Train ``spec`` once per seed (0..seeds-1, each in its own resumable directory); the record's
        ``miou`` is the mean over seeds, with its 95% interval and every seed's value. With ``steps``,
        each seed's training stops at that step of its schedule (:func:`archlab.search.fidelity.train_to`)."""
        from dataclasses import replace

        from archlab.stats import t_interval
        from archlab.train import TrainConfig, train

        base = TrainConfig(**{**self.objectives.train, "device": self.objectives.device})
        per_seed, kept = [], {}
        for seed in range(self.objectives.seeds):
            config = replace(base, seed=seed)
            out = self.runs_dir / f"{spec.content_hash()}-{config.result_hash()[:8]}"
            with _dir_lock(out):
                if steps is None:
                    record = train(spec, config, out=out, progress=False, threads=self.threads)
                else:
                    from archlab.search.fidelity import train_to

                    record = train_to(spec, config, out, steps, threads=self.threads)
            if not kept:
                kept = {k: v for k, v in record.items() if k not in TRAIN_DROP}
                kept["train_run"] = str(out)
            miou = record.get("miou")
            per_seed.append(float(miou) if miou is not None and math.isfinite(float(miou)) else 0.0)
        interval = t_interval(per_seed)
        kept.update(miou=interval.mean, miou_ci_low=interval.low, miou_ci_high=interval.high,
                    miou_seeds=interval.n, miou_by_seed=per_seed)
        return kept
