"""Search spaces as plain data: a base architecture, knobs, block choices per slot, objectives, constraints.

A search space lives in ``studies/NAME.py`` beside the studies and names itself ``SEARCH``::

    SEARCH = SearchSpace(
        name="search_fassd", title="...", base="fassd_net",
        knobs=(Knob("width", 0.5, 1.25, step=0.25), Knob("alpha", choices=(1, 2, 4, 8), when={"context": "dapf"})),
        slots=(Slot("context", {"dapf": (), "aspp": (replace("context", block="aspp"),),
                                "none": (remove("context"),)}),),
        constraints={"params_M": 4.0},
    )

A point of the space is a flat ``params`` dict: one option name per slot and one value per
*active* knob (a knob with ``when={"context": "dapf"}`` exists only while slot ``context`` is
``dapf``). :meth:`SearchSpace.spec` turns it into a :class:`~archlab.spec.Spec`: the base
spec, each slot's chosen ops (the :mod:`archlab.study` transforms) in slot order, then the
knobs in their declared order (``width`` / ``depth`` / ``alpha`` are
:func:`archlab.transforms.scale_width`, ``scale_depth``, ``set_alpha``).
:meth:`SearchSpace.suggest` draws a point through an Optuna trial, :meth:`SearchSpace.sample`
draws one from the same distribution with numpy alone (each slot option, each grid value
equally likely), so studies of the space need not run Optuna.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from archlab.errors import ArchlabError, SpecError
from archlab.spec import Spec
from archlab.study.definition import NAME_RE, Op
from archlab.study.files import StudyFileError, import_study_file, is_path, locate, study_modules
from archlab.hashing import digest

#: Knobs a space may search: the zoo's knobs, applied by :mod:`archlab.transforms`.
KNOB_NAMES = ("width", "depth", "alpha")
#: What a search minimises: measured median latency (ms) or MACs (fvcore) at the space's size.
METRICS = ("latency", "macs")
#: Constraints a space may set, each an upper bound: parameters (millions), latency (ms), GMACs.
CONSTRAINTS = ("params_M", "latency_ms", "gmacs")


class SearchError(ArchlabError):
    """A search space or a point of it that cannot be used; the message names the space and the place."""

    def __init__(self, message: str, *, space: str, where: str | None = None):
        super().__init__(f"search space {space!r}" + (f", {where}" if where else "") + f": {message}")
        self.space, self.where = space, where


def accuracy_choices() -> list[str]:
    """Every valid accuracy objective: ``miou`` (short training) and ``proxy:NAME`` for each zero-cost proxy."""
    from archlab.proxies import PROXIES

    return ["miou"] + [f"proxy:{p}" for p in PROXIES]


def parse_accuracy(text: str) -> tuple[str, str | None]:
    """``"miou"`` -> ``("miou", None)``, ``"proxy:naswot"`` -> ``("proxy", "naswot")``; anything else is a
    ValueError listing the valid ones."""
    valid = accuracy_choices()
    if text not in valid:
        raise ValueError(f"unknown objective {text!r}; valid: {', '.join(valid)}")
    kind, _, name = text.partition(":")
    return kind, (name or None)


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _clean(value):
    """Grid values as plain Python numbers without float noise (0.75, not 0.7500000000000001)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = round(float(value), 10)
        return int(value) if value.is_integer() else value
    return value


@dataclass(frozen=True)
class Knob:
    """One searched knob: a range ``low..high`` (by ``step``, or continuous without one) or ``choices``.

    ``when`` makes it conditional: ``{"context": "dapf"}`` (or ``{"context": ("dapf", "ppm")}``)
    means the knob exists only while those slots hold those options.
    """

    name: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple | None = None
    when: dict | None = None

    def grid(self) -> tuple | None:
        """Every value the knob can take, in order; None for a continuous range."""
        if self.choices is not None:
            return tuple(_clean(c) for c in self.choices)
        if self.step is None:
            return None
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return tuple(_clean(self.low + k * self.step) for k in range(count))

    def extremes(self) -> tuple:
        grid = self.grid()
        if grid is None:
            return (_clean(self.low), _clean(self.high))
        if self.choices is not None and all(_number(c) for c in grid):
            return (min(grid), max(grid))
        return (grid[0], grid[-1])

    def active(self, params: dict) -> bool:
        """Whether the knob exists at this point (its ``when`` slots hold the named options)."""
        for slot, options in (self.when or {}).items():
            allowed = (options,) if isinstance(options, str) else tuple(options)
            if params.get(slot) not in allowed:
                return False
        return True

    def describe(self) -> str:
        if self.choices is not None:
            body = "{" + ", ".join(map(str, self.grid())) + "}"
        else:
            body = f"{_clean(self.low)}..{_clean(self.high)}" + (f" step {_clean(self.step)}" if self.step else "")
        cond = (" when " + ", ".join(f"{k}={v}" for k, v in self.when.items())) if self.when else ""
        return f"{self.name} {body}{cond}"


@dataclass(frozen=True)
class Slot:
    """One place in the base architecture with interchangeable blocks: option name -> the ops that make it
    (``()`` keeps the base's own block)."""

    name: str
    options: dict[str, tuple[Op, ...]]


@dataclass(frozen=True)
class SearchSpace:
    """A declarative architecture search: what varies, what is measured, what is allowed.

    ``metric``: what to minimise, median latency on the device (``"latency"``) or fvcore MACs
    (``"macs"``), both of one image at ``size`` = (H, W). ``accuracy``: what to maximise,
    ``"proxy:NAME"`` (a zero-cost proxy of :mod:`archlab.proxies` on the ``proxy`` batch) or
    ``"miou"`` (:func:`archlab.train.train` under the ``train`` budget, on synthstreets unless it
    says otherwise). ``constraints``: upper bounds by :data:`CONSTRAINTS` name (None: no bound);
    trials beyond one are kept and marked infeasible. ``reference_study``: a study whose variants
    are the hand-designed points the front is compared with. ``objective_hook``: optional
    ``"module:function"`` called as ``function(spec, record)`` after each evaluation; it may add
    figures to the record (returning the record, or None to keep it as it is).
    """

    name: str
    title: str
    base: str
    knobs: tuple[Knob, ...] = ()
    slots: tuple[Slot, ...] = ()
    metric: str = "latency"
    accuracy: str = "proxy:naswot"
    size: tuple[int, int] = (256, 512)
    latency_runs: int = 5
    latency_warmup: int = 1
    proxy: dict = field(default_factory=lambda: {"dataset": "synthstreets", "size": (64, 128), "batch": 8,
                                                 "seed": 0})
    train: dict = field(default_factory=lambda: {"size": (128, 256), "steps": 60, "batch": 8, "warmup_steps": 6,
                                                 "eval_length": 50})
    constraints: dict = field(default_factory=dict)
    reference_study: str | None = None
    population_size: int = 8
    num_classes: int = 19
    objective_hook: str | None = None
    description: str = ""
    seeds: int = 1   # trainings per trial when the accuracy is "miou" (mean over seeds 0..n-1, 95% interval)

    # -- points ---------------------------------------------------------------------------------

    def suggest(self, trial) -> dict:
        """A point drawn through an Optuna ``trial``: slots first (categorical), then the active knobs
        (a range with a step is ``suggest_float(step=...)``, choices are categorical)."""
        params = {}
        for slot in self.slots:
            params[slot.name] = trial.suggest_categorical(slot.name, list(slot.options))
        for knob in self.knobs:
            if not knob.active(params):
                continue
            if knob.choices is not None:
                params[knob.name] = _clean(trial.suggest_categorical(knob.name, list(knob.grid())))
            else:
                params[knob.name] = _clean(trial.suggest_float(knob.name, knob.low, knob.high, step=knob.step))
        return params

    def sample(self, rng: np.random.Generator) -> dict:
        """A point from the same distribution as a first-generation :meth:`suggest`, without Optuna:
        every slot option and every grid value equally likely, a continuous range uniform."""
        params = {}
        for slot in self.slots:
            names = list(slot.options)
            params[slot.name] = names[int(rng.integers(len(names)))]
        for knob in self.knobs:
            if not knob.active(params):
                continue
            grid = knob.grid()
            if grid is None:
                params[knob.name] = float(rng.uniform(knob.low, knob.high))
            else:
                params[knob.name] = grid[int(rng.integers(len(grid)))]
        return params

    def points(self) -> list[dict]:
        """Every point of a fully discrete space (raises SearchError if a knob is continuous)."""
        out = [{}]
        for slot in self.slots:
            out = [{**p, slot.name: o} for p in out for o in slot.options]
        for knob in self.knobs:
            grid = knob.grid()
            if grid is None:
                raise SearchError(f"knob {knob.name!r} is continuous: the space has no finite list of points",
                                  space=self.name)
            out = [p2 for p in out for p2 in ([{**p, knob.name: v} for v in grid] if knob.active(p) else [p])]
        return out

    def label(self, params: dict) -> str:
        """A short readable name of a point: ``context=dapf fusion=mda width=0.75 depth=1 alpha=4``."""
        order = [s.name for s in self.slots] + [k.name for k in self.knobs]
        return " ".join(f"{k}={_clean(params[k])}" for k in order if k in params)

    def check_params(self, params) -> dict:
        """``params`` checked against the space and cleaned; SearchError names the bad parameter and what is valid."""
        if not isinstance(params, dict):
            raise SearchError(f"params must be a dict of slot and knob values, got {type(params).__name__}",
                              space=self.name)
        clean = {}
        for slot in self.slots:
            if slot.name not in params:
                raise SearchError(f"missing slot {slot.name!r}; options: {', '.join(slot.options)}",
                                  space=self.name, where=f"param {slot.name!r}")
            if params[slot.name] not in slot.options:
                raise SearchError(f"{params[slot.name]!r} is not an option; options: {', '.join(slot.options)}",
                                  space=self.name, where=f"param {slot.name!r}")
            clean[slot.name] = params[slot.name]
        for knob in self.knobs:
            where = f"param {knob.name!r}"
            if not knob.active(clean):
                if knob.name in params:
                    raise SearchError(f"is only searched when {knob.when}; drop it for this point",
                                      space=self.name, where=where)
                continue
            if knob.name not in params:
                raise SearchError(f"missing knob ({knob.describe()})", space=self.name, where=where)
            value = params[knob.name]
            grid = knob.grid()
            if grid is not None:
                match = [g for g in grid if g == value or (_number(g) and _number(value) and abs(g - value) < 1e-9)]
                if not match:
                    raise SearchError(f"{value!r} is not a value of {knob.describe()}", space=self.name, where=where)
                clean[knob.name] = match[0]
            elif not _number(value) or not knob.low - 1e-12 <= value <= knob.high + 1e-12:
                raise SearchError(f"{value!r} is outside {knob.describe()}", space=self.name, where=where)
            else:
                clean[knob.name] = float(value)
        unknown = sorted(set(params) - set(clean) - {k.name for k in self.knobs})
        if unknown:
            names = [s.name for s in self.slots] + [k.name for k in self.knobs]
            raise SearchError(f"unknown parameter(s) {unknown}; the space has: {', '.join(names)}", space=self.name)
        return clean

    def spec(self, params: dict, *, validate: bool = True) -> Spec:
        """The network at ``params``: deterministic, named ``NAME[label]``, validated at :attr:`size`."""
        from archlab.graph import validate as validate_spec
        from archlab.study.definition import Op
        from archlab.zoo import get_spec

        params = self.check_params(params)
        try:
            spec = get_spec(self.base, num_classes=self.num_classes)
            for slot in self.slots:
                for op in slot.options[params[slot.name]]:
                    spec = op.apply(spec)
            for knob in self.knobs:
                if knob.name in params:
                    spec = Op(knob.name, (params[knob.name],)).apply(spec)   # the study's op table
            spec = spec.with_(name=f"{self.name}[{self.label(params)}]")
            if validate:
                validate_spec(spec, (1, 3, *self.size))
        except (SpecError, TypeError, KeyError, ValueError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise SearchError(str(message), space=self.name, where=f"point {self.label(params)!r}") from None
        return spec

    # -- the definition itself ---------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Hash of what gives a trial's params and figures their meaning (base, knobs, slots and their ops)."""
        body = {"base": self.base, "num_classes": self.num_classes,
                "knobs": [[k.name, k.low, k.high, k.step, list(k.grid() or ()), k.when] for k in self.knobs],
                "slots": [[s.name, {o: [op.describe() for op in ops] for o, ops in s.options.items()}]
                          for s in self.slots]}
        return digest(body)

    def describe(self) -> str:
        parts = [f"{s.name} in {{{', '.join(s.options)}}}" for s in self.slots] + [k.describe() for k in self.knobs]
        return "; ".join(parts)

    def check(self, build: bool = True) -> None:
        """Every problem the definition can have, before anything is measured.

        With ``build``: every slot option (other slots at their first option) is made with the
        knobs at all their lows and at all their highs; each such network's blocks are
        instantiated (on the meta device: channel counts, alpha <= channels, ...) and its stride
        checked against :attr:`size` and the proxy or training size, and the all-lows one is
        validated by a forward pass at :attr:`size`. Errors name the space, the slot and the option.
        """
        self._check_fields()
        if not build:
            return
        from archlab.graph import check_input_size, infer_shapes
        from archlab.graph import validate as validate_spec

        kind, _ = parse_accuracy(self.accuracy)
        other_size = tuple(self.train.get("size", (128, 256))) if kind == "miou" else tuple(self.proxy["size"])
        first = {s.name: next(iter(s.options)) for s in self.slots}
        cases = [(s.name, o) for s in self.slots for o in s.options] or [(None, None)]
        for slot, option in cases:
            base = dict(first, **({slot: option} if slot else {}))
            for end in (0, 1):
                params = dict(base)
                for knob in self.knobs:
                    if knob.active(params):
                        params[knob.name] = knob.extremes()[end]
                where = (f"slot {slot!r}, option {option!r}, " if slot else "") + \
                    f"knobs at their {'lows' if end == 0 else 'highs'}"
                try:
                    spec = self.spec(params, validate=False)
                    shapes = infer_shapes(spec)
                    for hw in (self.size, other_size):
                        check_input_size(spec, (1, 3, *hw), shapes)
                    if end == 0:
                        validate_spec(spec, (1, 3, *self.size))
                except (SearchError, SpecError, ValueError, TypeError) as exc:
                    message = str(exc).split(": ", 1)[-1] if isinstance(exc, SearchError) else str(exc)
                    raise SearchError(f"does not build ({self.label(params)}): {message}", space=self.name,
                                      where=where) from None

    def _check_fields(self) -> None:
        def bad(message, where=None):
            raise SearchError(message, space=self.name, where=where)

        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            bad("a search space name is lower case letters, digits and '_'")
        from archlab.zoo import list_models

        if self.base not in list_models(None):
            bad(f"unknown base model {self.base!r}; the zoo has: {', '.join(list_models(None))}")
        names = []
        for slot in self.slots:
            where = f"slot {slot.name!r}"
            if not isinstance(slot, Slot):
                bad(f"{slot!r} is not a Slot")
            if not isinstance(slot.options, dict) or not slot.options:
                bad("needs a dict of at least one option name -> ops", where)
            for option, ops in slot.options.items():
                if not isinstance(ops, (tuple, list)) or not all(isinstance(op, Op) for op in ops):
                    bad("ops must be a tuple of archlab.study transforms (replace(), remove(), remove_all(), ...)",
                        f"{where}, option {option!r}")
            names.append(slot.name)
        for knob in self.knobs:
            where = f"knob {knob.name!r}"
            if not isinstance(knob, Knob):
                bad(f"{knob!r} is not a Knob")
            if knob.name not in KNOB_NAMES:
                bad(f"unknown knob; valid knobs: {', '.join(KNOB_NAMES)}", where)
            if knob.choices is not None:
                if knob.low is not None or knob.high is not None or not len(knob.choices):
                    bad("give either choices or low..high, not both (and choices must not be empty)", where)
                if not all(_number(c) and c > 0 for c in knob.choices):
                    bad(f"choices must be positive numbers, got {knob.choices}", where)
            else:
                if not (_number(knob.low) and _number(knob.high) and 0 < knob.low <= knob.high):
                    bad(f"needs 0 < low <= high (or choices), got low={knob.low!r}, high={knob.high!r}", where)
                if knob.step is not None and not (_number(knob.step) and knob.step > 0):
                    bad(f"step must be a positive number, got {knob.step!r}", where)
            for slot, options in (knob.when or {}).items():
                known = {s.name: s for s in self.slots}
                if slot not in known:
                    bad(f"'when' names slot {slot!r}, which the space does not have (slots: {', '.join(known)})",
                        where)
                for option in ((options,) if isinstance(options, str) else options):
                    if option not in known[slot].options:
                        bad(f"'when' names option {option!r} of slot {slot!r}; options: "
                            f"{', '.join(known[slot].options)}", where)
            names.append(knob.name)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            bad(f"slot and knob names must be unique; repeated: {dupes}")
        if self.metric not in METRICS:
            bad(f"unknown metric {self.metric!r}; valid: {', '.join(METRICS)}")
        try:
            parse_accuracy(self.accuracy)
        except ValueError as exc:
            bad(str(exc))
        for key, value in self.constraints.items():
            if key not in CONSTRAINTS:
                bad(f"unknown constraint {key!r}; valid: {', '.join(CONSTRAINTS)}")
            if value is not None and not (_number(value) and value > 0):
                bad(f"constraint {key}={value!r} must be a positive number or None")
        if not (isinstance(self.population_size, int) and self.population_size >= 2):
            bad(f"population_size={self.population_size!r} must be an integer >= 2")
        for what, hw in (("size", self.size), ("proxy size", self.proxy.get("size"))):
            if not (isinstance(hw, (tuple, list)) and len(hw) == 2 and all(isinstance(v, int) and v > 0 for v in hw)):
                bad(f"{what} must be (H, W) with positive integers, got {hw!r}")
        from archlab.train import TrainConfig

        try:
            TrainConfig(**self.train)
        except (TypeError, ValueError) as exc:
            bad(f"training budget: {exc}")
        if self.objective_hook is not None and ":" not in str(self.objective_hook):
            bad(f"objective_hook={self.objective_hook!r} must be 'module:function'")


# -- loading ------------------------------------------------------------------------------------------


def list_spaces(studies_dirs=()) -> list[str]:
    """Names of the study files (``--studies-dir`` folders, ``ARCHLAB_STUDIES``, archlab's own) that define a ``SEARCH``."""
    out = []
    for name in study_modules(studies_dirs):
        if NAME_RE.match(name):
            try:
                module = import_study_file(name, studies_dirs)
            except StudyFileError:  # a broken study file is reported by its own loader
                continue
            if isinstance(getattr(module, "SEARCH", None), SearchSpace):
                out.append(name)
    return out


def load_space(ref: str, check: bool = True, studies_dirs=()) -> SearchSpace:
    """The search space ``ref`` (a study file's name, or a path to a ``.py`` file) as its ``SEARCH``, checked.

    The space's ``name`` must be its file's name (it names the report folder)."""
    if not isinstance(ref, str) or not (is_path(ref) or NAME_RE.match(ref)):
        raise SearchError("a search space is named by its file in studies/ (lower case letters, digits, '_'; "
                          "no dots) or by a path to a .py file; python -m archlab.search --list shows them",
                          space=str(ref))
    try:
        found = locate(ref, studies_dirs)
    except StudyFileError as exc:
        spaces = list_spaces(studies_dirs)
        raise SearchError(f"{exc}. Search spaces: {', '.join(spaces) or 'none'}", space=ref) from None
    try:
        module = import_study_file(ref, studies_dirs)
    except StudyFileError as exc:
        raise SearchError(str(exc), space=found.name) from None
    shown = f"studies/{found.name}.py" if found.origin == "archlab" else str(found.path)
    space = getattr(module, "SEARCH", None)
    if not isinstance(space, SearchSpace):
        raise SearchError(f"{shown} defines no SEARCH = SearchSpace(...); search spaces: "
                          f"{', '.join(list_spaces(studies_dirs)) or 'none'}", space=found.name)
    if space.name != found.name:
        raise SearchError(f"{shown} defines a space named {space.name!r}; the names must match", space=found.name)
    space.check(build=check)
    return space
