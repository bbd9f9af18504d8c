"""The zoo: named specs of the seed architectures, each with its knobs.

Every module in this package registers its models with :func:`register_model`. A model
function takes ``num_classes`` and returns the base :class:`~archlab.spec.Spec`; the knobs
(``width``, ``depth``, ``alpha``) are applied afterwards by the generic graph transforms, so a
knob works the same way on every architecture that has the blocks it touches.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from archlab import transforms
from archlab.errors import SpecError
from archlab.registry import get_block
from archlab.spec import Spec


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., Spec]
    paper: str
    published: dict = field(default_factory=dict)
    kind: str = "segmentation"  # "backbone": features out, no classifier; "floor": accuracy floor model


KINDS = ("segmentation", "backbone", "floor")
_MODELS: dict[str, ModelEntry] = {}
_LOADED = False


def register_model(name: str, *, paper: str, published: dict | None = None, kind: str = "segmentation"):
    """Decorator: register ``fn(num_classes) -> Spec`` under ``name``.

    ``kind="backbone"`` marks a feature extractor (its spec ends in features, not class scores;
    ``num_classes`` is ignored); ``kind="floor"`` a deliberately weak model that bounds what a
    dataset gives away without context (see :mod:`archlab.zoo.floors`); ``published`` holds the
    paper's figures with units in the keys.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; valid: {', '.join(map(repr, KINDS))}")

    def wrap(fn):
        if name in _MODELS:
            raise RuntimeError(f"model {name!r} registered twice")
        _MODELS[name] = ModelEntry(name, fn, paper, dict(published or {}), kind)
        return fn

    return wrap


def _load():
    global _LOADED
    if not _LOADED:
        for mod in pkgutil.iter_modules(__path__):
            if mod.name.startswith("_"):
                continue
            importlib.import_module(f"{__name__}.{mod.name}")
        _LOADED = True


def list_models(kind: str | None = "segmentation") -> list[str]:
    """Names of the registered models of ``kind`` (``None``: all, backbones and floors included), sorted."""
    _load()
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind={kind!r}; valid: None, {', '.join(map(repr, KINDS))}")
    return sorted(name for name, entry in _MODELS.items() if kind is None or entry.kind == kind)


def model_entry(name: str) -> ModelEntry:
    _load()
    if name not in _MODELS:
        import difflib

        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SpecError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def knobs(spec: Spec) -> list[str]:
    """The knobs that change ``spec``: width and depth where blocks declare such arguments, alpha for DAPF."""
    found = []
    classes = [get_block(n.block, node=n.id).cls for n in spec.nodes]
    if any(getattr(c, "channel_args", None) for c in classes):
        found.append("width")
    if any(getattr(c, "depth_args", None) for c in classes):
        found.append("depth")
    if transforms.alpha_nodes(spec):
        found.append("alpha")
    return found


def get_spec(name: str, num_classes: int = 19, width: float | None = None, depth: float | None = None,
             alpha: float | None = None) -> Spec:
    """The spec of zoo model ``name`` for ``num_classes``, with knobs applied.

    A knob the model does not have (``alpha`` on a network without DAPF) is an error, not a no-op.
    """
    entry = model_entry(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise SpecError(f"num_classes={num_classes!r} must be a positive integer", spec=name)
    spec = entry.fn(num_classes=num_classes)
    spec = spec.with_(meta={"paper": entry.paper, "published": entry.published, **spec.meta})
    available = knobs(spec)
    for knob, value, fn in (("width", width, transforms.scale_width), ("depth", depth, transforms.scale_depth),
                            ("alpha", alpha, transforms.set_alpha)):
        if value is None:
            continue
        if knob not in available:
            raise SpecError(f"model {name!r} has no {knob!r} knob; its knobs are: {', '.join(available) or 'none'}",
                            spec=name)
        spec = fn(spec, value)
    applied = {k: v for k, v in (("width", width), ("depth", depth), ("alpha", alpha)) if v is not None}
    if applied:
        spec = spec.with_(meta={**spec.meta, "knobs": applied})
    return spec


def create_model(name: str, num_classes: int = 19, **knob_values):
    """Build zoo model ``name`` as an ``nn.Module`` (a :class:`~archlab.graph.GraphModel`)."""
    from archlab.graph import build

    unknown = sorted(set(knob_values) - {"width", "depth", "alpha"})
    if unknown:
        raise SpecError(f"unknown knob(s) {unknown}; valid knobs: width, depth, alpha", spec=name)
    return build(get_spec(name, num_classes=num_classes, **knob_values))
