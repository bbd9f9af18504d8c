"""Specs: architectures as plain data.

A :class:`Spec` is a list of :class:`Node` records. Each node names a block from the registry,
its keyword arguments and the ids of the tensors it consumes. ``"input"`` is the image; a
reference ``"id:k"`` picks output ``k`` of a node with several outputs (a bare ``"id"`` means
output 0). Input channels and strides are never written in a spec: the graph infers them.

Specs are immutable values: transforms return new specs. They round-trip through JSON and have
a stable content hash (SHA-256 of the canonical JSON) that identifies them in records.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from archlab.errors import SpecError
from archlab.hashing import text_digest

INPUT = "input"
_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _plain(value: dict, where: str) -> dict:
    """A JSON-normalised copy (tuples become lists), so a spec equals its JSON round trip."""
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value))
    except RecursionError:
        raise SpecError(f"{where} is nested too deeply to be plain JSON data") from None
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where} must be plain JSON data (numbers, strings, lists, mappings): {exc}") from None


def _typed(value, types, what: str, valid: str, **where):
    """``value`` if it is one of ``types`` (bool never counts as int), else a SpecError naming it."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise SpecError(f"{what} must be {valid}, got {value!r}", **where)
    if not isinstance(value, types):
        raise SpecError(f"{what} must be {valid}, got {type(value).__name__} {value!r}", **where)
    return value


def parse_ref(ref: str) -> tuple[str, int]:
    """Split ``"node:k"`` into ``("node", k)``; a bare id is output 0."""
    if not isinstance(ref, str) or not ref:
        raise SpecError(f"input reference {ref!r} is not a node id string like 'stem' or 'enc:1'")
    name, sep, index = ref.partition(":")
    if not sep:
        return name, 0
    if not index.isdigit():
        raise SpecError(f"input reference {ref!r}: output index after ':' must be a non-negative integer")
    return name, int(index)


@dataclass(frozen=True)
class Node:
    """One block instance in a spec.

    ``tags`` is free-form plain data that transforms read (for example ``{"cascade": "stage"}``
    marks a backbone stage for :func:`archlab.transforms.cascade`); it never reaches the block.
    """

    id: str
    block: str
    args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = (INPUT,)
    tags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.id, str) or not _ID_RE.match(self.id) or self.id == INPUT:
            raise SpecError(
                f"node id {self.id!r} is not valid: use letters, digits and '_' (not starting with a digit), "
                f"and not the reserved name {INPUT!r}"
            )
        _typed(self.block, str, "'block'", "a block name string (see archlab.list_blocks())", node=self.id)
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        _typed(self.inputs, (tuple, list), "'inputs'", "a list of input references like ['input'] or ['enc:1']",
               node=self.id)
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if not self.inputs:
            raise SpecError("a node needs at least one input", node=self.id)
        for ref in self.inputs:
            _typed(ref, str, "every input reference", "a string like 'input', 'stem' or 'enc:1'", node=self.id)
        object.__setattr__(self, "args", _plain(self.args, f"node {self.id!r} args"))
        object.__setattr__(self, "tags", _plain(self.tags, f"node {self.id!r} tags"))

    def with_(self, **changes) -> "Node":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = {"id": self.id, "block": self.block, "args": copy.deepcopy(self.args), "inputs": list(self.inputs)}
        if self.tags:
            d["tags"] = copy.deepcopy(self.tags)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Node":
        _typed(d, dict, "a node", "a mapping with 'id', 'block', 'args' and 'inputs'")
        unknown = set(d) - {"id", "block", "args", "inputs", "tags"}
        if unknown:
            raise SpecError(f"unknown node field(s) {sorted(unknown)}; valid: id, block, args, inputs, tags",
                            node=d.get("id"))
        if "id" not in d or "block" not in d:
            raise SpecError(f"a node needs 'id' and 'block', got fields {sorted(d)}", node=d.get("id"))
        inputs = _typed(d.get("inputs", [INPUT]), list, "'inputs'",
                        "a list of input references like [\"input\"] or [\"enc:1\"]", node=d.get("id"))
        return cls(id=d["id"], block=d["block"], args=d.get("args", {}), inputs=inputs,
                   tags=d.get("tags", {}))


@dataclass(frozen=True)
class Spec:
    """An architecture: nodes in any order, the id of the output node, and metadata.

    ``input_multiple`` overrides the side divisor that validation demands of an input size
    (by default the largest stride any tensor reaches); ``meta`` holds provenance such as the
    paper and the published figures, and takes no part in building.
    """

    name: str
    nodes: tuple[Node, ...]
    output: str
    in_channels: int = 3
    input_multiple: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _typed(self.name, str, "the spec's 'name'", "a string")
        _typed(self.nodes, (tuple, list), "'nodes'", "a list of node records", spec=self.name)
        _typed(self.output, str, "'output'", "the id string of the output node", spec=self.name)
        _typed(self.in_channels, int, "'in_channels'", "a positive integer", spec=self.name)
        if self.in_channels < 1:
            raise SpecError(f"'in_channels' must be a positive integer, got {self.in_channels}", spec=self.name)
        if self.input_multiple is not None:
            _typed(self.input_multiple, int, "'input_multiple'", "a positive integer or null", spec=self.name)
            if self.input_multiple < 1:
                raise SpecError(f"'input_multiple' must be a positive integer or null, got {self.input_multiple}",
                                spec=self.name)
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "meta", _plain(self.meta, "the spec's 'meta'"))
        seen = set()
        for node in self.nodes:
            if not isinstance(node, Node):
                raise SpecError(f"nodes must be archlab.Node records, got {type(node).__name__}", spec=self.name)
            if node.id in seen:
                raise SpecError("duplicate node id; every node id must be unique", spec=self.name, node=node.id)
            seen.add(node.id)

    # --- access -------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise SpecError(f"no node {node_id!r}; nodes are: {', '.join(n.id for n in self.nodes)}", spec=self.name)

    def __contains__(self, node_id: str) -> bool:
        return any(n.id == node_id for n in self.nodes)

    def consumers(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes if any(parse_ref(r)[0] == node_id for r in n.inputs)]

    def find(self, block: str | None = None, **tags) -> list[Node]:
        """Nodes with the given block name and/or tag values, in spec order."""
        return [n for n in self.nodes if (block is None or n.block == block)
                and all(n.tags.get(k) == v for k, v in tags.items())]

    def with_nodes(self, nodes: Iterable[Node], **changes) -> "Spec":
        return replace(self, nodes=tuple(nodes), **changes)

    def with_(self, **changes) -> "Spec":
        return replace(self, **changes)

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "in_channels": self.in_channels, "input_multiple": self.input_multiple,
                "output": self.output, "nodes": [n.to_dict() for n in self.nodes],
                "meta": copy.deepcopy(self.meta)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Spec":
        _typed(d, dict, "a spec", "a JSON object with 'name', 'nodes' and 'output'")
        unknown = set(d) - {"name", "in_channels", "input_multiple", "output", "nodes", "meta"}
        if unknown:
            raise SpecError(f"unknown spec field(s) {sorted(unknown)}; valid: name, nodes, output, in_channels, "
                            f"input_multiple, meta", spec=d.get("name"))
        for key in ("name", "nodes", "output"):
            if key not in d:
                raise SpecError(f"a spec needs {key!r}", spec=d.get("name"))
        name = _typed(d["name"], str, "the spec's 'name'", "a string")
        nodes = _typed(d["nodes"], list, "'nodes'", "a list of node objects", spec=name)
        return cls(name=name, nodes=tuple(Node.from_dict(n) for n in nodes), output=d["output"],
                   in_channels=d.get("in_channels", 3), input_multiple=d.get("input_multiple"),
                   meta=d.get("meta", {}))

    @classmethod
    def from_json(cls, text: str) -> "Spec":
        _typed(text, (str, bytes, bytearray), "spec JSON", "a string of JSON text")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec JSON does not parse: {exc}") from None
        except RecursionError:
            raise SpecError("spec JSON is nested too deeply to be a spec") from None
        return cls.from_dict(data)

    def content_hash(self) -> str:
        """Stable hash of what builds the network: nodes, output, input channels (not name or meta)."""
        d = self.to_dict()
        body = {k: d[k] for k in ("nodes", "output", "in_channels", "input_multiple")}
        return text_digest(json.dumps(body, sort_keys=True, separators=(",", ":")))
