"""The block graph: validate a spec, infer every node's channels and stride, build a module.

Validation happens before any real tensor is made: structure first (unknown block or argument,
missing input, cycle), then shape inference by instantiating each block on PyTorch's ``meta``
device in topological order (a block reports ``out_channels`` and ``stride``), then a ``meta``
forward pass at the requested input size. Whatever goes wrong is raised as
:class:`~archlab.errors.SpecError` naming the node, never as a raw PyTorch error.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from archlab.errors import BlockContractError, SpecError
from archlab.registry import get_block
from archlab.spec import INPUT, Node, Spec, parse_ref


@dataclass(frozen=True)
class NodeShape:
    """Inferred shapes of one node: channels and strides (relative to the input image)."""

    in_channels: tuple[int, ...]
    in_strides: tuple[float, ...]
    out_channels: tuple[int, ...]
    out_strides: tuple[float, ...]


def topological_order(spec: Spec) -> list[Node]:
    """Nodes in an order where every input comes first; errors name missing inputs and cycles."""
    ids = {n.id for n in spec.nodes}
    for node in spec.nodes:
        for ref in node.inputs:
            src, _ = parse_ref(ref)
            if src != INPUT and src not in ids:
                raise SpecError(f"input {ref!r} does not exist; valid inputs are {INPUT!r} or one of: "
                                f"{', '.join(sorted(ids - {node.id}))}", spec=spec.name, node=node.id)
    if spec.output not in ids:
        raise SpecError(f"output {spec.output!r} is not a node; nodes are: {', '.join(n.id for n in spec.nodes)}",
                        spec=spec.name)
    by_id = {n.id: n for n in spec.nodes}
    order, state = [], {}  # state: 1 = visiting, 2 = done

    def visit(node_id: str, path: list[str]):
        if state.get(node_id) == 2:
            return
        if state.get(node_id) == 1:
            cycle = path[path.index(node_id):] + [node_id]
            raise SpecError(f"cycle in the graph: {' -> '.join(cycle)}", spec=spec.name, node=node_id)
        state[node_id] = 1
        for ref in by_id[node_id].inputs:
            src, _ = parse_ref(ref)
            if src != INPUT:
                visit(src, path + [node_id])
        state[node_id] = 2
        order.append(by_id[node_id])

    for node in spec.nodes:
        visit(node.id, [])
    return order


def _check_args(spec: Spec, node: Node):
    info = get_block(node.block, node=node.id)
    unknown = sorted(set(node.args) - set(info.parameters))
    if unknown:
        raise SpecError(f"block {node.block!r} has no argument(s) {unknown}; valid: "
                        f"{', '.join(info.parameters) or '(none)'}", spec=spec.name, node=node.id)
    missing = [k for k in info.required if k not in node.args]
    if missing:
        raise SpecError(f"block {node.block!r} needs argument(s) {missing}", spec=spec.name, node=node.id)
    n = len(node.inputs)
    if info.num_inputs is not None and n != info.num_inputs:
        raise SpecError(f"block {node.block!r} takes {info.num_inputs} input(s), got {n}: {list(node.inputs)}",
                        spec=spec.name, node=node.id)
    return info


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _instantiate(spec: Spec, node: Node, in_channels: tuple[int, ...]) -> nn.Module:
    info = get_block(node.block, node=node.id)
    channels = in_channels[0] if info.num_inputs == 1 else tuple(in_channels)
    try:
        module = info.cls(channels, **node.args)
    except SpecError:
        raise
    except (ValueError, TypeError, RuntimeError, ZeroDivisionError, AssertionError) as exc:
        raise SpecError(f"block {node.block!r} cannot be built with in_channels={channels} and args "
                        f"{node.args}: {exc}", spec=spec.name, node=node.id) from None
    for attribute, valid in (("out_channels", _channel_count), ("stride", _stride_value)):
        if not hasattr(module, attribute):
            raise BlockContractError(f"block {node.block!r} ({info.source}) has no attribute {attribute!r} after "
                                     f"__init__; the block contract (archlab.blocks) needs it", spec=spec.name,
                                     node=node.id)
        value = getattr(module, attribute)
        if not all(valid(v) for v in _as_tuple(value)):
            raise BlockContractError(f"block {node.block!r} ({info.source}) sets {attribute} = {value!r}; expected "
                                     f"{'positive ints' if attribute == 'out_channels' else 'positive numbers'} "
                                     f"(one, or a tuple with one per output)", spec=spec.name, node=node.id)
    return module


def _channel_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _stride_value(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def infer_shapes(spec: Spec) -> dict[str, NodeShape]:
    """Channels and strides of every node, from the spec alone (blocks are made on ``meta``)."""
    shapes: dict[str, NodeShape] = {}
    source = {INPUT: NodeShape((), (), (spec.in_channels,), (1,))}
    for node in topological_order(spec):
        info = _check_args(spec, node)
        in_ch, in_st = [], []
        for ref in node.inputs:
            src, k = parse_ref(ref)
            shape = source[src]
            if k >= len(shape.out_channels):
                raise SpecError(f"input {ref!r} asks for output {k} but {src!r} has {len(shape.out_channels)} "
                                f"output(s) (valid: {src}:0 .. {src}:{len(shape.out_channels) - 1})",
                                spec=spec.name, node=node.id)
            in_ch.append(shape.out_channels[k])
            in_st.append(shape.out_strides[k])
        if getattr(info.cls, "same_size_inputs", False) and len(set(in_st)) > 1:
            detail = ", ".join(f"{r} at 1/{s:g}" for r, s in zip(node.inputs, in_st))
            raise SpecError(f"block {node.block!r} needs its inputs at one resolution, got {detail}; resize them "
                            f"first (for example with a 'concat' or 'add' node with resize=true)",
                            spec=spec.name, node=node.id)
        with torch.device("meta"):
            module = _instantiate(spec, node, tuple(in_ch))
        out_ch = _as_tuple(module.out_channels)
        ref_stride = in_st[getattr(module, "stride_ref", 0)]
        out_st = tuple(ref_stride * s for s in _as_tuple(getattr(module, "stride", 1)))
        if len(out_st) == 1 and len(out_ch) > 1:
            out_st = out_st * len(out_ch)
        shapes[node.id] = source[node.id] = NodeShape(tuple(in_ch), tuple(in_st), out_ch, out_st)
    return shapes


def total_stride(spec: Spec, shapes: dict[str, NodeShape] | None = None) -> int:
    """The side divisor an input needs: ``spec.input_multiple`` or the largest stride reached."""
    if spec.input_multiple:
        return int(spec.input_multiple)
    shapes = shapes or infer_shapes(spec)
    largest = max(s for shape in shapes.values() for s in shape.out_strides)
    return max(1, int(math.ceil(largest - 1e-9)))


def check_input_size(spec: Spec, input_size, shapes=None) -> tuple[int, int, int, int]:
    """Normalise ``(N, C, H, W)`` or ``(H, W)`` and check it against the network's stride."""
    size = tuple(int(v) for v in input_size)
    if len(size) == 2:
        size = (1, spec.in_channels) + size
    if len(size) != 4 or min(size) < 1:
        raise SpecError(f"input size {input_size} must be (N, C, H, W) or (H, W) with positive sides",
                        spec=spec.name)
    if size[1] != spec.in_channels:
        raise SpecError(f"input size {input_size} has {size[1]} channels; the spec takes {spec.in_channels}",
                        spec=spec.name)
    multiple = total_stride(spec, shapes)
    h, w = size[2:]
    if h % multiple or w % multiple:
        def near(v):
            return max(multiple, round(v / multiple) * multiple)
        raise SpecError(f"input {h}x{w}: height and width must be multiples of {multiple} (the network's total "
                        f"stride); the nearest valid size is {near(h)}x{near(w)}", spec=spec.name)
    return size


def small_input_size(spec: Spec, shapes: dict[str, NodeShape] | None = None) -> tuple[int, int]:
    """A small valid (H, W) for quick checks: sides multiples of the total stride, at least 32,
    and the deepest feature map still 2x4 pixels."""
    shapes = shapes or infer_shapes(spec)
    multiple = total_stride(spec, shapes)
    deepest = max(s for shape in shapes.values() for s in shape.out_strides)
    side = int(math.ceil(max(32, 2 * deepest) / multiple)) * multiple
    return side, 2 * side


def _check_forward(spec: Spec, model: "GraphModel", size):
    """A forward pass on ``meta`` tensors: shape errors become SpecErrors naming the node."""
    with torch.device("meta"):
        x = torch.empty(size)
    model.run(x, check=True)


def _last_readers(order: list[str], inputs: dict[str, list[tuple[str, int]]], output: str) -> dict[str, list[str]]:
    """For each node, the sources (nodes, or the input) whose last reader it is; never ``output``."""
    last = {}
    for node_id in order:
        for src, _ in inputs[node_id]:
            last[src] = node_id
    release = {node_id: [] for node_id in order}
    for src, node_id in last.items():
        if src != output:
            release[node_id].append(src)
    return release


class GraphModel(nn.Module):
    """An ``nn.Module`` built from a spec: one child module per node, run in topological order.

    Child modules are named by node id, so ``model.nodes[node_id]`` is that node's block and
    per-node profiles (hooks, fvcore's by-module counts) line up with the spec.
    """

    def __init__(self, spec: Spec, shapes: dict[str, NodeShape], order: list[Node], device=None):
        super().__init__()
        self.spec = spec
        self.shapes = shapes
        self.order = [n.id for n in order]
        self._inputs = {n.id: [parse_ref(r) for r in n.inputs] for n in order}
        self._release = _last_readers(self.order, self._inputs, spec.output)
        self.nodes = nn.ModuleDict()
        with torch.device(device) if device is not None else contextlib.nullcontext():
            for node in order:
                self.nodes[node.id] = _instantiate(spec, node, shapes[node.id].in_channels)
        output = shapes[spec.output]
        self.out_channels = output.out_channels[0]

    def run(self, x: torch.Tensor, check: bool = False, keep: bool = False):
        """Run the graph; ``check`` wraps failures per node, ``keep`` returns every node's output.

        Without ``keep``, each node's output is released as soon as its last reader has run, as a
        hand-written forward's locals are, so peak memory is the network's, not the sum of every
        feature map."""
        env = {INPUT: x}
        for node_id in self.order:
            args = [env[src] if not isinstance(env[src], (tuple, list)) else env[src][k]
                    for src, k in self._inputs[node_id]]
            if check:
                try:
                    out = self.nodes[node_id](*args)
                except SpecError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any failure here is a spec/shape problem to report
                    shapes = ", ".join(f"{tuple(a.shape)}" for a in args)
                    raise SpecError(f"block {self.spec.node(node_id).block!r} fails on inputs of shape {shapes}: "
                                    f"{str(exc).splitlines()[0]}", spec=self.spec.name, node=node_id) from None
                self._check_output(node_id, out, x.shape[-2:])
            else:
                out = self.nodes[node_id](*args)
            env[node_id] = out
            if not keep:  # drop what no later node reads: memory as a hand-written forward's
                for src in self._release[node_id]:
                    del env[src]
        result = env[self.spec.output]
        if isinstance(result, (tuple, list)):
            result = result[0]
        return env if keep else result

    def _check_output(self, node_id: str, out, input_hw) -> None:
        """A node's output against what its block declared: channels, and sides = input sides / stride."""
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        block = self.spec.node(node_id).block
        declared = self.shapes[node_id].out_channels
        got = tuple(o.shape[1] for o in outputs)
        if got != declared:
            raise SpecError(f"block {block!r} declared out_channels {declared} but produced {got} (a bug in the "
                            f"block)", spec=self.spec.name, node=node_id)
        for k, (o, stride) in enumerate(zip(outputs, self.shapes[node_id].out_strides)):
            expected = tuple(side / stride for side in input_hw)
            if o.ndim == 4 and any(abs(g - e) >= 1 for g, e in zip(o.shape[-2:], expected)):
                which = f" output {k}" if len(outputs) > 1 else ""
                raise SpecError(f"block {block!r}{which} is {o.shape[-2]}x{o.shape[-1]} on a "
                                f"{input_hw[0]}x{input_hw[1]} input, but its stride says 1/{stride:g} of it "
                                f"({expected[0]:g}x{expected[1]:g}): its stride attribute does not match what its "
                                f"forward does (a kernel without padding, or a pooling the block does not declare)",
                                spec=self.spec.name, node=node_id)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a SpecError if ``x`` cannot be this network's input: not one (N, C, H, W) tensor,
        the wrong channel count, or sides the network's total stride does not divide.

        Pure arithmetic on the inferred strides: no model code runs, so a tool wrapped around a
        forward (a FLOP counter, a profiler) sees only the forward's own work.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise SpecError(f"the model takes one (N, C, H, W) tensor, got "
                            f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}",
                            spec=self.spec.name)
        check_input_size(self.spec, (1,) + tuple(x.shape[1:]), self.shapes)

    def diagnose(self, x: torch.Tensor) -> SpecError | None:
        """After a forward on ``x`` failed: re-run the graph on ``meta`` tensors of ``x``'s size and
        return the SpecError naming the node that cannot take it (an input too small for a block,
        say), or None when the graph runs on ``meta`` (the failure was not a shape problem: out of
        memory, a wrong dtype)."""
        twin = GraphModel(self.spec, self.shapes, topological_order(self.spec), device="meta").eval()
        try:
            _check_forward(self.spec, twin, (1,) + tuple(x.shape[1:]))
        except SpecError as problem:
            return problem
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
            return self.run(x)
        self.check_input(x)
        try:
            return self.run(x)
        except (RuntimeError, ValueError, IndexError):
            problem = self.diagnose(x)  # only after a failure: a successful forward runs nothing extra
            if problem is None:
                raise
            raise problem from None


def validate(spec: Spec, input_size=None) -> dict[str, NodeShape]:
    """Check a spec completely and return its inferred shapes; raises SpecError naming the node.

    Without ``input_size`` the forward check runs at a small valid size where the deepest
    feature map is still 2x4 pixels.
    """
    if not isinstance(spec, Spec):
        raise SpecError(f"expected an archlab.Spec, got {type(spec).__name__}")
    shapes = infer_shapes(spec)
    size = check_input_size(spec, input_size or small_input_size(spec, shapes), shapes)
    meta_model = GraphModel(spec, shapes, topological_order(spec), device="meta").eval()
    _check_forward(spec, meta_model, size)
    return shapes


def build(spec: Spec, input_size=None) -> GraphModel:
    """Validate ``spec`` (at ``input_size`` when given) and build it as a :class:`GraphModel`."""
    shapes = validate(spec, input_size)
    return GraphModel(spec, shapes, topological_order(spec))
