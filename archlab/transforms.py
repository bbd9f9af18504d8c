"""Graph transforms: one call each, spec in, new spec out.

``replace`` (a node's block and/or arguments), ``remove`` (consumers take the node's input),
``substitute`` (a node becomes a small chain of nodes, e.g. concat + 1x1 conv + MDA for a fusion),
``scale_width`` / ``scale_depth`` / ``set_alpha`` (the knobs), and ``cascade`` (DFANet's
sub-network and sub-stage aggregation, Li et al., CVPR 2019, Sec. 3.2, applied to any backbone
whose stages are tagged). The graph infers channels and strides afterwards, so no other edit
is ever needed.
"""
from __future__ import annotations

import inspect
import math
import numbers

from archlab.errors import SpecError
from archlab.registry import get_block
from archlab.spec import INPUT, Node, Spec, parse_ref


def replace(spec: Spec, node_id: str, block: str | None = None, *, keep_args: bool = False, **args) -> Spec:
    """Swap ``node_id``'s block and/or update its arguments.

    With a new ``block`` the node starts from that block's defaults plus ``args`` (or, with
    ``keep_args``, also keeps the old arguments the new block accepts); without, ``args`` are merged.
    """
    old = spec.node(node_id)
    if block is None or block == old.block:
        new_args = {**old.args, **args}
        block = old.block
    else:
        info = get_block(block, node=node_id)
        kept = {k: v for k, v in old.args.items() if k in info.parameters} if keep_args else {}
        new_args = {**kept, **args}
    info = get_block(block, node=node_id)
    unknown = sorted(set(new_args) - set(info.parameters))
    if unknown:
        raise SpecError(f"block {block!r} has no argument(s) {unknown}; valid: {', '.join(info.parameters)}",
                        spec=spec.name, node=node_id)
    new = old.with_(block=block, args=new_args)
    return spec.with_nodes(new if n.id == node_id else n for n in spec.nodes)


def remove(spec: Spec, node_id: str) -> Spec:
    """Delete a one-input, one-output node; its consumers take its input instead."""
    node = spec.node(node_id)
    if len(node.inputs) != 1:
        raise SpecError(f"only a node with one input can be removed (its consumers take that input); it has "
                        f"{len(node.inputs)}: {list(node.inputs)}", spec=spec.name, node=node_id)
    source = node.inputs[0]
    nodes = []
    for n in spec.nodes:
        if n.id == node_id:
            continue
        refs = []
        for ref in n.inputs:
            src, k = parse_ref(ref)
            if src == node_id:
                if k != 0:
                    raise SpecError(f"cannot remove {node_id!r}: node {n.id!r} uses its output {k}",
                                    spec=spec.name, node=node_id)
                ref = source
            refs.append(ref)
        nodes.append(n.with_(inputs=tuple(refs)))
    output = spec.output
    if output == node_id:
        if parse_ref(source)[0] == INPUT:
            raise SpecError("cannot remove the only node between the input and the output", spec=spec.name,
                            node=node_id)
        output = parse_ref(source)[0]
    return spec.with_nodes(nodes, output=output)


def substitute(spec: Spec, node_id: str, nodes) -> Spec:
    """Replace ``node_id`` by ``nodes`` (``Node`` records or ``(id, block, args, inputs)`` tuples).

    The last new node takes over ``node_id`` (its id must be ``node_id``), so consumers are
    untouched; the others need fresh ids. New nodes may read any existing node, the input, or
    earlier new nodes. Example: Fast-SCNN's two-input feature fusion becomes an upsample-and-
    concatenate, a 1x1 conv and an MDA module.
    """
    old = spec.node(node_id)
    new = [n if isinstance(n, Node) else Node(n[0], n[1], dict(n[2]) if len(n) > 2 else {},
                                                 tuple(n[3]) if len(n) > 3 else old.inputs)
           for n in nodes]
    if not new or new[-1].id != node_id:
        raise SpecError(f"substitute: the last new node must have the replaced id {node_id!r} (so that its "
                        f"consumers keep reading it); got {[n.id for n in new]}", spec=spec.name, node=node_id)
    taken = {n.id for n in spec.nodes} - {node_id}
    clash = [n.id for n in new[:-1] if n.id in taken or n.id == node_id]
    if clash:
        raise SpecError(f"substitute: new node id(s) {clash} already exist; pick fresh ids", spec=spec.name,
                        node=node_id)
    for n in new:
        get_block(n.block, node=n.id)
    out = []
    for n in spec.nodes:
        out.extend(new if n.id == node_id else [n])
    return spec.with_nodes(out)


def make_divisible(value: float, divisor: int) -> int:
    """Round to the nearest multiple of ``divisor`` (at least one), never more than 10% below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _scaled_args(node: Node, names: dict, fn) -> dict:
    """Apply ``fn(value, extra)`` to every named argument, explicit or defaulted, int or list."""
    info = get_block(node.block, node=node.id)
    args = dict(node.args)
    for name, extra in names.items():
        value = args.get(name, info.parameters.get(name, inspect.Parameter.empty))
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            args[name] = fn(value, extra)
        elif isinstance(value, list) and value and all(isinstance(v, numbers.Integral) for v in value):
            args[name] = [fn(v, extra) for v in value]
    return args


#: The largest factor a width or depth knob accepts: 8x the published network (the papers' own
#: variants stay within 0.25x-2x; beyond 8x a build would take minutes and gigabytes).
MAX_FACTOR = 8.0


def _positive_factor(value, what: str, maximum: float | None = MAX_FACTOR) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"{what}={value!r} must be a positive number (1.0 leaves the network as it is)")
    if maximum is not None and value > maximum:
        raise SpecError(f"{what}={value!r} is above the limit of {maximum:g} (1.0 is the published network)")
    return float(value)


def scale_width(spec: Spec, factor: float) -> Spec:
    """Multiply every channel count by ``factor``, rounded to what each block needs (8 by default)."""
    factor = _positive_factor(factor, "width")
    if factor == 1.0:
        return spec
    nodes = []
    for node in spec.nodes:
        names = getattr(get_block(node.block, node=node.id).cls, "channel_args", {})
        nodes.append(node.with_(args=_scaled_args(node, names, lambda v, div: make_divisible(v * factor, div))))
    return spec.with_nodes(nodes)


def scale_depth(spec: Spec, factor: float) -> Spec:
    """Multiply every repeat and layer count by ``factor`` (rounded up, at least 1)."""
    factor = _positive_factor(factor, "depth")
    if factor == 1.0:
        return spec
    nodes = []
    for node in spec.nodes:
        names = {a: None for a in getattr(get_block(node.block, node=node.id).cls, "depth_args", ())}
        nodes.append(node.with_(args=_scaled_args(node, names, lambda v, _: max(1, math.ceil(v * factor - 1e-9)))))
    return spec.with_nodes(nodes)


def alpha_nodes(spec: Spec) -> list[Node]:
    return [n for n in spec.nodes if "alpha" in get_block(n.block, node=n.id).parameters]


def set_alpha(spec: Spec, alpha: float) -> Spec:
    """Set DAPF's channel divisor ``alpha`` (mid = C / alpha) on every node that has one."""
    alpha = _positive_factor(alpha, "alpha", maximum=None)
    targets = {n.id for n in alpha_nodes(spec)}
    if not targets:
        raise SpecError("no node takes 'alpha' (only DAPF does); nothing to set", spec=spec.name)
    value = int(alpha) if float(alpha).is_integer() else alpha
    return spec.with_nodes(n.with_(args={**n.args, "alpha": value}) if n.id in targets else n for n in spec.nodes)


def cascade(spec: Spec, copies: int = 3, tag: str = "cascade") -> Spec:
    """Sub-network and sub-stage aggregation (DFANet, Li et al., CVPR 2019, Sec. 3.2) on any backbone.

    The backbone is the nodes tagged ``{tag: "stage"}`` (in spec order, each taking the previous
    one's output) and optionally one ``{tag: "head"}`` node after the last stage (DFANet's FC
    attention). Copy j+1 of the backbone runs on ``concat(copy j's first stage, copy j's
    final output upsampled)``; its stage k>1 takes ``concat(its stage k-1, copy j's stage k)``.
    Consumers that accept any number of inputs (``concat``, ``resized_sum``) receive every copy's
    output in place of the original; other consumers take the last copy's.
    """
    if not isinstance(copies, int) or copies < 1:
        raise SpecError(f"copies={copies!r} must be a positive integer", spec=spec.name)
    stages = [n for n in spec.nodes if n.tags.get(tag) == "stage"]
    heads = [n for n in spec.nodes if n.tags.get(tag) == "head"]
    if not stages:
        raise SpecError(f"no node is tagged {{'{tag}': 'stage'}}; mark the backbone stages to cascade",
                        spec=spec.name)
    if len(heads) > 1:
        raise SpecError(f"at most one node may be tagged {{'{tag}': 'head'}}, found {[h.id for h in heads]}",
                        spec=spec.name)
    chain = stages + heads
    for prev, node in zip(chain, chain[1:]):
        if list(node.inputs) != [prev.id] and list(node.inputs) != [f"{prev.id}:0"]:
            raise SpecError(f"cascaded nodes must form a chain: {node.id!r} should take {prev.id!r} alone, it takes "
                            f"{list(node.inputs)}", spec=spec.name, node=node.id)
    if copies == 1:
        return spec
    chain_ids = {n.id for n in chain}
    last = chain[-1].id

    def cid(node_id: str, j: int) -> str:
        return node_id if j == 0 else f"{node_id}_c{j + 1}"

    new_nodes: list[Node] = []
    for node in spec.nodes:
        if node.id in chain_ids:
            continue
        refs, first_ref = [], []  # first_ref[i]: where old input i (its first copy) now sits
        variadic = get_block(node.block, node=node.id).num_inputs is None
        for ref in node.inputs:
            src, k = parse_ref(ref)
            first_ref.append(len(refs))
            if src in chain_ids:
                suffix = "" if k == 0 else f":{k}"
                if variadic:
                    refs.extend(cid(src, j) + suffix for j in range(copies))
                else:
                    refs.append(cid(src, copies - 1) + suffix)
            else:
                refs.append(ref)
        args = node.args
        if variadic and isinstance(args.get("size_from"), int) and 0 <= args["size_from"] < len(first_ref):
            args = {**args, "size_from": first_ref[args["size_from"]]}  # still the same input's first copy
        new_nodes.append(node.with_(inputs=tuple(refs), args=args))
    backbone: list[Node] = []
    for j in range(copies):
        for i, node in enumerate(chain):
            tags = {**node.tags, f"{tag}_copy": j + 1}
            if j == 0:
                backbone.append(node.with_(tags=tags))
                continue
            if i == 0:
                join = Node(id=f"{node.id}_c{j + 1}_in", block="concat", args={"size_from": 0},
                            inputs=(cid(chain[0].id, j - 1), cid(last, j - 1)), tags={f"{tag}_join": j + 1})
                backbone.append(join)
                inputs = (join.id,)
            elif node.tags.get(tag) == "stage":
                join = Node(id=f"{node.id}_c{j + 1}_in", block="concat", args={"size_from": 0},
                            inputs=(cid(chain[i - 1].id, j), cid(node.id, j - 1)), tags={f"{tag}_join": j + 1})
                backbone.append(join)
                inputs = (join.id,)
            else:
                inputs = (cid(chain[i - 1].id, j),)
            backbone.append(node.with_(id=cid(node.id, j), inputs=inputs, tags=tags))
    # Keep a readable order: everything before the first stage, the backbone copies, the rest.
    first = next(i for i, n in enumerate(spec.nodes) if n.id == chain[0].id)
    before = [n for n in new_nodes if any(m.id == n.id for m in spec.nodes[:first])]
    after = [n for n in new_nodes if n not in before]
    output = cid(spec.output, copies - 1) if spec.output in chain_ids else spec.output
    return spec.with_nodes(before + backbone + after, output=output)
