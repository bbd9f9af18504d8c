"""What a study is: a base architecture, named variants made of graph transforms, the settings
to measure them under, and the published figures to print beside them. All plain data.

A study file in ``studies/`` builds one :class:`Study` and names it ``STUDY``::

    STUDY = Study(
        name="dapf_vs_aspp", title="...", base="fassd_net",
        variants=(Variant("+ASPP", (replace("context", block="aspp"), remove_all("mda")), published="aspp"), ...),
        reference=Reference(source="Rosas-Arias et al., ICPR 2020, Table I", rows={"aspp": {...}}),
        baseline="baseline",
    )

Transforms are :class:`Op` values (``replace``, ``remove``, ``remove_all``, ``substitute``,
``width``, ``depth``, ``alpha``, ``cascade``), applied in order to the base spec by the
functions of :mod:`archlab.transforms`; a study never builds modules itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from archlab import transforms
from archlab.errors import ArchlabError, SpecError
from archlab.spec import Spec

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Published figures a reference row may hold; each is shown beside the measured column.
PUBLISHED_KEYS = ("gmacs", "params_M", "fps", "miou_pct")


class StudyError(ArchlabError):
    """A study definition that cannot be run; the message names the study, the variant and the problem."""

    def __init__(self, message: str, *, study: str, variant: str | None = None):
        where = f"study {study!r}" + (f", variant {variant!r}" if variant else "")
        super().__init__(f"{where}: {message}")
        self.study, self.variant = study, variant


@dataclass(frozen=True)
class Op:
    """One graph transform as data: ``kind`` names a function of :mod:`archlab.transforms`."""

    kind: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def apply(self, spec: Spec) -> Spec:
        if self.kind == "remove_all":
            found = spec.find(block=self.args[0])
            if not found:
                raise SpecError(f"remove_all({self.args[0]!r}): the spec has no node of block {self.args[0]!r}",
                                spec=spec.name)
            for node in found:
                spec = transforms.remove(spec, node.id)
            return spec
        fn = _OPS[self.kind]
        return fn(spec, *self.args, **self.kwargs)

    def describe(self) -> str:
        parts = [repr(a) if not isinstance(a, (list, tuple)) else f"[{len(a)} nodes]" for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.kind}({', '.join(parts)})"


_OPS = {"replace": transforms.replace, "remove": transforms.remove, "substitute": transforms.substitute,
        "width": transforms.scale_width, "depth": transforms.scale_depth, "alpha": transforms.set_alpha,
        "cascade": transforms.cascade}


def replace(node: str, block: str | None = None, **args) -> Op:
    return Op("replace", (node,), {"block": block, **args} if block else dict(args))


def remove(node: str) -> Op:
    return Op("remove", (node,))


def remove_all(block: str) -> Op:
    """Remove every node of ``block`` (e.g. all three MDA modules of FASSD-Net's decoder)."""
    return Op("remove_all", (block,))


def substitute(node: str, nodes) -> Op:
    return Op("substitute", (node, tuple(tuple(n) for n in nodes)))


def width(factor: float) -> Op:
    return Op("width", (factor,))


def depth(factor: float) -> Op:
    return Op("depth", (factor,))


def alpha(value: float) -> Op:
    return Op("alpha", (value,))


def cascade(copies: int = 3) -> Op:
    return Op("cascade", (), {"copies": copies})


@dataclass(frozen=True)
class Variant:
    """One row: ``ops`` applied to the study's base (or to zoo model ``base``); ``published`` is
    the key of its reference row, ``"zoo"`` for the base model's own published figures, or None.
    ``baseline`` names the row its differences are taken against when that is not the study's
    (a study over two base networks compares each variant with its own network's original)."""

    name: str
    ops: tuple[Op, ...] = ()
    base: str | None = None
    published: str | None = None
    note: str = ""
    baseline: str | None = None   # the row this one is compared against (default: the study's baseline)


@dataclass(frozen=True)
class Reference:
    """Published figures with their source; ``rows[key]`` holds :data:`PUBLISHED_KEYS` values."""

    source: str
    rows: dict = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class Study:
    """A named, declarative set of variants of one architecture and how to measure them.

    ``size``: input (H, W) for MACs, parameters and latency (batch 1). ``train``: the proxy
    training budget (:class:`archlab.train.TrainConfig` fields). ``baseline``: the variant that
    parameter deltas and FPS ratios are taken against. ``pareto_x``: the x axis of the Pareto plot.
    Latency: every variant is timed in ``latency_runs`` interleaved rounds of
    ``latency_runs_per_round`` forwards each, after ``latency_warmup`` untimed forwards
    (:mod:`archlab.profile.interleaved`). ``seeds``: trainings per variant (seeds 0..n-1, paired
    across variants). ``calibration``: the ladder of budgets ``--calibrate`` compares, each a dict of
    :class:`archlab.train.TrainConfig` overrides on top of ``train`` (empty: half, once and twice
    the study's steps). ``scale_note``: why the training size leaves some block flagged by the
    scale check (:mod:`archlab.study.scale`), when it does.
    """

    name: str
    title: str
    base: str
    variants: tuple[Variant, ...]
    reference: Reference | None = None
    baseline: str | None = None
    size: tuple[int, int] = (1024, 2048)
    train: dict = field(default_factory=dict)
    latency_runs: int = 6
    latency_warmup: int = 2
    latency_runs_per_round: int = 1
    num_classes: int = 19
    description: str = ""
    seeds: int = 3
    calibration: tuple = ()
    scale_note: str = ""

    def check(self) -> None:
        """Every problem a definition can have, before anything is measured (errors name the variant)."""
        if not NAME_RE.match(self.name):
            raise StudyError("a study name is lower case letters, digits and '_'", study=self.name)
        if not self.variants:
            raise StudyError("has no variants", study=self.name)
        names = [v.name for v in self.variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise StudyError(f"variant names must be unique; repeated: {dupes}", study=self.name)
        if self.baseline is not None and self.baseline not in names:
            raise StudyError(f"baseline {self.baseline!r} is not a variant; variants: {names}", study=self.name)
        for v in self.variants:
            if v.baseline is not None and v.baseline not in names:
                raise StudyError(f"baseline {v.baseline!r} is not a variant; variants: {names}", study=self.name,
                                 variant=v.name)
        for v in self.variants:
            if v.published not in (None, "zoo"):
                rows = sorted(self.reference.rows) if self.reference else []
                if v.published not in rows:
                    raise StudyError(f"published row {v.published!r} is missing from the study's reference "
                                     f"(rows: {rows or 'no reference given'})", study=self.name, variant=v.name)
        from archlab.train import TrainConfig

        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise StudyError(f"seeds={self.seeds!r} must be a positive number of trainings per variant", study=self.name)
        try:
            TrainConfig(**self.train)
            for rung in self.calibration:
                TrainConfig(**{**self.train, **rung})
        except (TypeError, ValueError) as exc:
            raise StudyError(f"training budget: {exc}", study=self.name) from None
        self.specs()

    def baseline_of(self, variant: str) -> str | None:
        """The name of the row ``variant`` is compared against: its own ``baseline``, else the study's.
        A row that is some row's baseline is its own."""
        if variant in self.baselines():
            return variant
        own = next((v.baseline for v in self.variants if v.name == variant), None)
        return own if own is not None else self.baseline

    def baselines(self) -> list[str]:
        """Every row some row is compared against, in variant order."""
        named = {self.baseline} | {v.baseline for v in self.variants}
        return [v.name for v in self.variants if v.name in named]

    def spec(self, variant: Variant) -> Spec:
        """The variant's spec: its base's spec with the ops applied, validated at the study's size."""
        from archlab.graph import validate
        from archlab.zoo import get_spec

        try:
            spec = get_spec(variant.base or self.base, num_classes=self.num_classes)
            for op in variant.ops:
                if not isinstance(op, Op):
                    raise SpecError(f"{op!r} is not a transform; use replace(), remove(), remove_all(), "
                                    f"substitute(), width(), depth(), alpha() or cascade() from archlab.study")
                spec = op.apply(spec)
            spec = spec.with_(name=f"{self.name}[{variant.name}]")
            validate(spec, (1, 3, *self.size))
        except (SpecError, TypeError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise StudyError(str(message), study=self.name, variant=variant.name) from None
        return spec

    def specs(self) -> dict[str, Spec]:
        return {v.name: self.spec(v) for v in self.variants}

    def published(self, variant: Variant) -> dict:
        """The variant's published figures as ``published_*`` columns (empty when it has none)."""
        if variant.published is None:
            return {}
        if variant.published == "zoo":
            from archlab.zoo import model_entry

            row = dict(model_entry(variant.base or self.base).published)
            source = model_entry(variant.base or self.base).paper
            if "gmacs" not in row and "gmacs_expected" in row:
                row = {k: v for k, v in row.items() if k != "gmacs_expected"}
        else:
            row, source = self.reference.rows[variant.published], self.reference.source
        out = {f"published_{k}": row[k] for k in PUBLISHED_KEYS if row.get(k) is not None}
        for k in ("fps_device", "miou_split", "gmacs_counter", "gmacs_input", "fps_input"):
            if row.get(k):
                out[f"published_{k}"] = row[k]
        if out:
            out["published_source"] = source
        return out
