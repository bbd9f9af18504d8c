"""The block registry: block names in specs → PyTorch module classes.

Blocks come from three places, all checked against one contract when they are registered:

- archlab's own, the ``BLOCKS`` mapping of every module of :mod:`archlab.blocks`;
- :func:`register_block`, from any module a user imports (``@archlab.register_block("my_attention",
  paper="...")`` on the class);
- installed packages that declare an entry point in the group ``archlab.blocks`` (the entry point
  names a module, imported on the registry's first use, that registers its blocks or exports ``BLOCKS``).

The contract (written out in :mod:`archlab.blocks`): an ``nn.Module`` subclass whose ``__init__``
takes ``in_channels`` first, with a ``paper`` naming its source, ``num_inputs`` None or a positive
int, ``channel_args`` and ``depth_args`` naming real arguments; after construction the instance
has ``out_channels`` and ``stride`` (checked by the graph when it builds the block, naming the node).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points

from torch import nn

from archlab.errors import BlockContractError, SpecError

ENTRY_POINT_GROUP = "archlab.blocks"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class BlockInfo:
    """A registered block: its spec name, class, keyword parameters (name → default), paper and inputs."""

    name: str
    cls: type
    parameters: dict  # argument name -> default (inspect.Parameter.empty when required)
    paper: str
    num_inputs: int | None  # None: any number ≥ 1
    source: str = ""      # "archlab", the registering module, or "entry point NAME (VALUE)"

    @property
    def required(self) -> list[str]:
        return [k for k, v in self.parameters.items() if v is inspect.Parameter.empty]


def check_contract(name: str, cls) -> BlockInfo:
    """The :class:`BlockInfo` of ``cls`` under ``name``, or a BlockContractError naming what is missing."""
    def broken(why: str):
        raise BlockContractError(f"block {name!r} ({getattr(cls, '__qualname__', cls)!r}): {why}")

    if not isinstance(name, str) or not _NAME.match(name):
        raise BlockContractError(f"block name {name!r}: expected lower-case letters, digits and '_', starting "
                                 f"with a letter (the name specs use)")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        broken("is not a torch.nn.Module subclass")
    params = list(inspect.signature(cls.__init__).parameters.items())[1:]
    if not params or params[0][0] != "in_channels":
        first = params[0][0] if params else "(nothing)"
        broken(f"__init__ must take 'in_channels' as its first argument, takes {first!r}")
    paper = getattr(cls, "paper", None)
    if not isinstance(paper, str) or not paper.strip():
        broken("has no 'paper' attribute: set paper = \"Authors, Title, Venue Year, Sec. N\" on the class "
               "(or register_block(..., paper=...))")
    num_inputs = getattr(cls, "num_inputs", 1)
    if num_inputs is not None and (isinstance(num_inputs, bool) or not isinstance(num_inputs, int) or num_inputs < 1):
        broken(f"num_inputs = {num_inputs!r}; expected a positive int, or None for any number of inputs")
    parameters = {pname: p.default for pname, p in params[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    for attribute in ("channel_args", "depth_args"):
        named = getattr(cls, attribute, {}) or {}
        unknown = sorted(set(named) - set(parameters))
        if unknown:
            broken(f"{attribute} names {unknown}, which __init__ does not take; arguments: {', '.join(parameters)}")
    return BlockInfo(name=name, cls=cls, parameters=parameters, paper=paper, num_inputs=num_inputs,
                     source=getattr(cls, "__module__", "?"))


class _Registry:
    """Every block by name. archlab's own and the entry points are loaded on first use."""

    def __init__(self):
        self._blocks: dict[str, BlockInfo] = {}
        self._loaded = False
        self._lock = threading.RLock()

    def add(self, info: BlockInfo) -> None:
        with self._lock:
            old = self._blocks.get(info.name)
            if old is not None and old.cls is not info.cls:
                if (old.cls.__module__, old.cls.__qualname__) != (info.cls.__module__, info.cls.__qualname__):
                    raise BlockContractError(f"block name {info.name!r} is already registered by {old.source} "
                                             f"({old.cls.__qualname__}); choose another name")
            self._blocks[info.name] = info   # the same class again (a module re-imported): the newest wins

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            import archlab.blocks as own

            for found in pkgutil.iter_modules(own.__path__):
                module = importlib.import_module(f"archlab.blocks.{found.name}")
                for name, cls in getattr(module, "BLOCKS", {}).items():
                    self.add(_with_source(check_contract(name, cls), "archlab"))
            for point in entry_points(group=ENTRY_POINT_GROUP):
                where = f"entry point {point.name!r} ({point.value})"
                try:
                    loaded = point.load()
                except Exception as exc:  # noqa: BLE001 - a broken plug-in: say which, not a deep traceback
                    raise BlockContractError(f"{where} in group {ENTRY_POINT_GROUP!r} cannot be loaded: "
                                             f"{type(exc).__name__}: {exc}") from None
                for name, cls in (getattr(loaded, "BLOCKS", None) or {}).items():
                    self.add(_with_source(check_contract(name, cls), where))

    def blocks(self) -> dict[str, BlockInfo]:
        self._load()
        return dict(sorted(self._blocks.items()))


def _with_source(info: BlockInfo, source: str) -> BlockInfo:
    return BlockInfo(info.name, info.cls, info.parameters, info.paper, info.num_inputs, source)


_REGISTRY = _Registry()


def register_block(name: str, cls=None, *, paper: str | None = None):
    """Register a block class under ``name``; usable as a decorator::

        @archlab.register_block("my_attention", paper="Me et al., My Attention, CVPR 2027, Sec. 3")
        class MyAttention(nn.Module):
            def __init__(self, in_channels, reduction=4): ...

    ``paper`` (when given) is set on the class. The contract is checked now: a missing
    ``in_channels`` or ``paper`` raises :class:`archlab.BlockContractError` naming the block. Returns
    the class, so the decorated name stays the class.
    """
    def register(block_cls):
        if paper is not None:
            block_cls.paper = paper
        _REGISTRY.blocks()   # archlab's own and the entry points first: a clash is reported here, not later
        _REGISTRY.add(check_contract(name, block_cls))
        return block_cls

    return register if cls is None else register(cls)


def get_block(name: str, *, node: str | None = None) -> BlockInfo:
    """The registered block ``name``; a SpecError (naming the node, suggesting close names) when unknown."""
    reg = _REGISTRY.blocks()
    if name not in reg:
        import difflib

        close = difflib.get_close_matches(name, reg, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SpecError(f"unknown block {name!r}.{hint} Known blocks: {', '.join(reg)}", node=node)
    return reg[name]


def list_blocks() -> list[dict]:
    """Every registered block: name, parameters with defaults (``None`` shown for required), paper, source."""
    rows = []
    for info in _REGISTRY.blocks().values():
        rows.append({
            "name": info.name,
            "parameters": {k: (None if v is inspect.Parameter.empty else v) for k, v in info.parameters.items()},
            "required": info.required,
            "inputs": "any" if info.num_inputs is None else info.num_inputs,
            "paper": info.paper,
            "source": info.source,
        })
    return rows
