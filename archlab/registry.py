"""The block registry: block names in specs → PyTorch module classes in ``blocks/``.

Every module in the ``blocks`` package exports a ``BLOCKS`` mapping of spec names to classes;
the registry collects them all. A block class follows the conventions written in
``blocks/__init__.py`` (``in_channels`` first, ``out_channels`` and ``stride`` attributes,
``paper`` naming its source), which is all the graph needs to infer shapes.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from functools import lru_cache

from archlab.errors import SpecError


@dataclass(frozen=True)
class BlockInfo:
    name: str
    cls: type
    parameters: dict  # argument name -> default (inspect.Parameter.empty when required)
    paper: str
    num_inputs: int | None  # None: any number ≥ 1

    @property
    def required(self) -> list[str]:
        return [k for k, v in self.parameters.items() if v is inspect.Parameter.empty]


@lru_cache(maxsize=1)
def _registry() -> dict[str, BlockInfo]:
    import blocks

    found: dict[str, BlockInfo] = {}
    for mod in pkgutil.iter_modules(blocks.__path__):
        module = importlib.import_module(f"blocks.{mod.name}")
        for name, cls in getattr(module, "BLOCKS", {}).items():
            if name in found:
                raise RuntimeError(f"block name {name!r} registered twice ({found[name].cls} and {cls})")
            params = {}
            for pname, p in list(inspect.signature(cls.__init__).parameters.items())[1:]:
                if pname == "in_channels" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                params[pname] = p.default
            found[name] = BlockInfo(name=name, cls=cls, parameters=params,
                                    paper=getattr(cls, "paper", ""), num_inputs=getattr(cls, "num_inputs", 1))
    return dict(sorted(found.items()))


def get_block(name: str, *, node: str | None = None) -> BlockInfo:
    reg = _registry()
    if name not in reg:
        import difflib

        close = difflib.get_close_matches(name, reg, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SpecError(f"unknown block {name!r}.{hint} Known blocks: {', '.join(reg)}", node=node)
    return reg[name]


def list_blocks() -> list[dict]:
    """Every registered block: name, parameters with defaults (``None`` shown for required), paper."""
    rows = []
    for info in _registry().values():
        rows.append({
            "name": info.name,
            "parameters": {k: (None if v is inspect.Parameter.empty else v) for k, v in info.parameters.items()},
            "required": info.required,
            "inputs": "any" if info.num_inputs is None else info.num_inputs,
            "paper": info.paper,
        })
    return rows
