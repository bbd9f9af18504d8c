"""Parameters and three operation counters (fvcore, thop, torch), reconciled, per node.

``count(model, x)`` runs each counter once on ``x`` (the model in eval mode, no gradients) and
returns :class:`Counts`: the totals, a per-node table whose rows sum exactly to the totals, each
counter's per-operator figures per node, and, wherever two counters differ by more than 2% on
a node, a sentence naming the operators responsible.

Units: fvcore and thop report MACs (one per multiply-add); torch's ``FlopCounterMode`` reports
FLOPs (two per multiply-add). They are never mixed under one name: ``macs_fvcore``,
``macs_thop``, ``flops_torch``; comparisons between counters use ``flops_torch / 2``.

What each counter counts (read from its source: fvcore 0.1.5 ``nn/flop_count.py`` and
``nn/jit_handles.py``, thop 0.1.1 ``profile.py`` and ``vision/basic_hooks.py``, torch 2.13
``utils/flop_counter.py``):

- **fvcore** traces the model with ``torch.jit`` and counts ATen operators it has a handle for:
  convolution ``N·Cout·Hout·Wout·(Cin/groups)·kh·kw`` (no bias), linear/addmm/mm/matmul/bmm/einsum
  (one per multiply-add), batch norm in eval mode ``2`` per element with affine (``1`` without),
  group/layer norm ``5`` per element, instance norm ``5``/``4``, ``upsample_bilinear2d`` ``4`` and
  ``upsample_nearest2d`` ``1`` per *output* element, ``adaptive_avg_pool2d`` ``1`` per input
  element, ``grid_sampler`` ``4`` per output element. Not counted: activations, max/avg pooling,
  element-wise add/mul/div, ``F.normalize``, and ``scaled_dot_product_attention`` (no handle).
  Functional calls are seen (the trace records every ATen op) and attributed to the module whose
  ``__call__`` issued them.
- **thop** hooks *modules* whose exact type is in its table (``thop.profile.register_hooks``);
  subclasses do not match (archlab's ``blocks.conv.BatchNorm2d``, a subclass of
  ``nn.BatchNorm2d``, counts 0), and functional calls (``F.interpolate``, ``torch.bmm``) are
  invisible. Rules: ``Conv*d``/``ConvTranspose*d`` as fvcore (no bias); ``Linear``
  ``in_features`` per output element; ``BatchNorm*d``/``LayerNorm``/``InstanceNorm*d``
  ``4`` per element with affine (``2`` without); ``ReLU``, ``ReLU6``, ``LeakyReLU``, ``MaxPool*``,
  ``Dropout``, ``ZeroPad2d``, ``PixelShuffle`` ``0``; ``PReLU`` ``1`` per element (eval);
  ``AvgPool*`` ``1`` per output element; ``AdaptiveAvgPool*`` ``(in/out area + 1)`` per output
  element; ``Upsample`` nearest ``1``, linear ``5``, bilinear ``11``, bicubic ``259`` per output
  element; ``Softmax`` ``3·n - 1`` per row. Everything else (``Identity``, ``Sigmoid``,
  ``Hardswish``, custom modules) counts 0.
- **torch** ``FlopCounterMode`` sits at the ATen dispatch level, so it sees functional calls and
  decomposed ops; it has formulas only for convolution (forward and backward), ``mm``, ``addmm``,
  ``bmm``, ``baddbmm``, ``_scaled_mm`` and the scaled-dot-product-attention kernels, each at two
  FLOPs per multiply-add (bias excluded). Batch norm, upsampling, pooling and element-wise ops
  count 0.

Speed: fvcore needs a real forward (its jit trace cannot run on ``meta`` tensors). torch and thop
only read shapes, so by default they share one forward of a ``meta`` copy of the model (no
arithmetic: its cost does not grow with the input size); a model that cannot run on ``meta``
falls back to one real forward of a copy (``Counts.on_meta`` says which). On ``meta`` tensors
``F.scaled_dot_product_attention`` decomposes into ``bmm``'s, so torch lists it as ``bmm`` there
(the figure is the same).
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

RECONCILE_RULE = (
    "macs_reconciled counts the multiply-accumulates of the operators that are multiply-accumulates: "
    "convolutions (any groups, dilation or transposition), linear layers, matrix products (mm, addmm, "
    "bmm, baddbmm, matmul, einsum) and scaled-dot-product attention, one per multiply-add, bias "
    "additions excluded. It is torch's FlopCounterMode figure divided by two: FlopCounterMode counts "
    "two FLOPs per multiply-add for exactly these operators and sees them at the ATen dispatch level, "
    "so functional calls (the attention matmuls, F.linear) are included whichever way a block issues "
    "them. On every zoo model it equals, node by node, the sum of fvcore's conv, linear, addmm, mm, "
    "matmul, bmm and einsum counts (tested). Batch norm (folded into the preceding conv for "
    "deployment), upsampling, pooling, activations and element-wise ops are not multiply-accumulates "
    "and are left out; fvcore and thop report them under their own rules in their own columns "
    "(fvcore: BN 2 per element, bilinear upsampling 4 per output element; thop: only modules of the "
    "exact types it knows, BN 4 per element, nn.Upsample bilinear 11 per output element, functional "
    "calls unseen)."
)
RECONCILE_RULE_NAME = "flops_torch/2"

OUTSIDE = "(outside nodes)"
COUNTERS = ("fvcore", "thop", "torch")
DISAGREE_REL = 0.02

# fvcore's operators that are multiply-accumulates (the reconciled rule's operators).
FVCORE_MAC_OPS = frozenset({"conv", "linear", "addmm", "mm", "matmul", "bmm", "einsum"})

_TORCH_OP_NAMES = {
    "convolution": "conv", "_convolution": "conv", "cudnn_convolution": "conv",
    "convolution_overrideable": "conv", "_slow_conv2d_forward": "conv",
    "_scaled_dot_product_efficient_attention": "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention": "scaled_dot_product_attention",
    "_scaled_dot_product_cudnn_attention": "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention_for_cpu": "scaled_dot_product_attention",
    "_flash_attention_forward": "scaled_dot_product_attention",
    "_efficient_attention_forward": "scaled_dot_product_attention",
}
# Operators compared as one family (fvcore's "linear" is torch's "addmm" or "mm").
_FAMILY = {"linear": "matmul", "addmm": "matmul", "mm": "matmul", "matmul": "matmul", "bmm": "matmul",
           "baddbmm": "matmul", "einsum": "matmul", "_scaled_mm": "matmul"}
_FUNCTIONAL = {
    "conv": "F.conv2d", "linear": "F.linear", "addmm": "F.linear", "mm": "torch.mm", "matmul": "torch.matmul",
    "bmm": "torch.bmm", "baddbmm": "torch.baddbmm", "einsum": "torch.einsum", "batch_norm": "F.batch_norm",
    "layer_norm": "F.layer_norm", "group_norm": "F.group_norm", "instance_norm": "F.instance_norm",
    "upsample_bilinear2d": "F.interpolate", "upsample_nearest2d": "F.interpolate",
    "adaptive_avg_pool2d": "F.adaptive_avg_pool2d", "grid_sampler": "F.grid_sample",
    "scaled_dot_product_attention": "F.scaled_dot_product_attention",
}

# thop's per-module rules where they differ from fvcore's (thop.vision.basic_hooks, calc_func).
_THOP_RULES = {
    "BatchNorm": "4 per element with affine, 2 without", "SyncBatchNorm": "4 per element with affine, 2 without",
    "LayerNorm": "4 per element with affine, 2 without", "InstanceNorm": "4 per element with affine, 2 without",
    "Upsample": "per output element: nearest 1, linear 5, bilinear 11, bicubic 259",
    "UpsamplingBilinear2d": "11 per output element", "UpsamplingNearest2d": "1 per output element",
    "PReLU": "1 per element", "AvgPool": "1 per output element",
    "AdaptiveAvgPool": "(input area / output area + 1) per output element", "Softmax": "3n - 1 per row of n",
}


@dataclass
class Counts:
    """Totals, the per-node table, per-operator figures and the counters' disagreements.

    ``per_node``: index = node id (``model.nodes``' children for a GraphModel, top-level children
    otherwise; a row ``"(outside nodes)"`` holds whatever ran outside them, present only when
    non-zero), columns ``params, macs_fvcore, macs_thop, flops_torch, macs_reconciled``; every
    column sums exactly to the total.
    ``ops``: ``{node: {"fvcore": {op: MACs}, "torch": {op: FLOPs}, "thop": {module type: MACs}}}``.
    ``disagreements``: one dict per (node, pair of counters) whose MACs differ by more than 2% of
    the larger: ``node``, ``counters`` (pair), ``macs`` (``{counter: MACs}``, torch as FLOPs/2),
    ``rel_diff`` and ``explanation`` (a sentence naming the operators responsible).
    """

    params: int
    macs_fvcore: int
    macs_thop: int
    flops_torch: int
    macs_reconciled: int
    per_node: pd.DataFrame
    ops: dict = field(default_factory=dict)
    disagreements: list = field(default_factory=list)
    on_meta: bool = True  # torch and thop ran on a meta copy (False: they needed a real forward)

    def as_record(self) -> dict:
        """The flat record fields (units in the names)."""
        return {"params": self.params, "macs_fvcore": self.macs_fvcore, "macs_thop": self.macs_thop,
                "flops_torch": self.flops_torch, "macs_reconciled": self.macs_reconciled,
                "macs_rule": RECONCILE_RULE_NAME, "counters_disagree": len(self.disagreements)}


# --------------------------------------------------------------------------------------------
# Thin helpers kept from archlab.counting


def count_params(model: nn.Module) -> int:
    """Number of parameters (every tensor in ``model.parameters()``, trainable or not, shared once)."""
    return sum(p.numel() for p in model.parameters())


def fvcore_macs(model: nn.Module, input_size, by_module: bool = False):
    """fvcore's MACs on a zero input of ``input_size`` (N, C, H, W), in eval mode.

    Returns the total, or ``(total, {module name: MACs})`` with ``by_module``.
    """
    _check_model(model)
    size = tuple(int(v) for v in input_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    total, incl, _ = _run_fvcore(model, torch.zeros(size, device=device))
    if not by_module:
        return total
    return total, {name: sum(ops.values()) for name, ops in incl.items()}


# --------------------------------------------------------------------------------------------
# The public entry point


def count(model: nn.Module, x: torch.Tensor, *, meta: bool = True) -> Counts:
    """Count parameters and operations of ``model`` on input ``x`` with fvcore, thop and torch.

    One forward per counter: fvcore traces the model itself on ``x``; torch and thop run on a
    ``meta`` copy (``meta=False``, or a model that fails on ``meta``: a real copy on ``x``'s
    device). The model is left as it was (mode, parameters, buffers, hooks).
    """
    _check_model(model)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor input for the model, got {type(x).__name__}")
    x = x.detach()
    check_input = getattr(model, "check_input", None)
    if callable(check_input):  # a GraphModel: a clear SpecError now, and no meta-twin forward later
        check_input(x)
    prefix, node_ids = _nodes(model)
    node_fqn = {node: prefix + node for node in node_ids}

    total_f, incl_f, unsupported_f = _run_fvcore(model, x)
    total_t, incl_t, total_h, incl_h, hooked, on_meta = _run_shape_counters(model, x, meta)

    modules = dict(model.named_modules())
    params_by_node = _params_by_node(model, node_fqn)
    total_params = count_params(model)

    rows, ops = {}, {}
    for node, fqn in node_fqn.items():
        f_ops = dict(incl_f.get(fqn, {}))
        t_ops = dict(incl_t.get(fqn, {}))
        h_ops = _thop_by_type(fqn, modules, hooked, incl_h)
        rows[node] = (params_by_node[node], _sum(f_ops), int(incl_h.get(fqn, 0)), _sum(t_ops))
        ops[node] = {"fvcore": f_ops, "torch": t_ops, "thop": h_ops}
    outside = (total_params - sum(r[0] for r in rows.values()), total_f - sum(r[1] for r in rows.values()),
               total_h - sum(r[2] for r in rows.values()), total_t - sum(r[3] for r in rows.values()))
    if any(outside):
        rows[OUTSIDE] = outside
        ops[OUTSIDE] = {
            "fvcore": _minus(incl_f.get("", {}), *(ops[n]["fvcore"] for n in node_ids)),
            "torch": _minus(incl_t.get("", {}), *(ops[n]["torch"] for n in node_ids)),
            "thop": _minus(_thop_by_type("", modules, hooked, incl_h), *(ops[n]["thop"] for n in node_ids)),
        }
    table = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=["params", "macs_fvcore", "macs_thop", "flops_torch"]).astype("int64")
    table["macs_reconciled"] = table["flops_torch"] // 2
    table.index.name = "node"

    incl = {"fvcore": _complete(incl_f, modules),
            "torch": _complete({k: {op: v / 2 for op, v in ops.items()} for k, ops in incl_t.items()}, modules)}
    disagreements = []
    for node, row in table.iterrows():
        scope = ([node_fqn[node]], frozenset()) if node in node_fqn else ([""], frozenset(node_fqn.values()))
        context = _Context(node, *scope, modules, hooked, incl, incl_h, unsupported_f)
        disagreements += _disagreements(context, {"fvcore": int(row.macs_fvcore), "thop": int(row.macs_thop),
                                                  "torch": int(row.flops_torch) // 2})
    return Counts(params=total_params, macs_fvcore=int(total_f), macs_thop=int(total_h), flops_torch=int(total_t),
                  macs_reconciled=int(total_t) // 2, per_node=table, ops=ops, disagreements=disagreements,
                  on_meta=on_meta)


# --------------------------------------------------------------------------------------------
# Running the counters


def _check_model(model):
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module (for example archlab.create_model('fast_scnn')), "
                         f"got {type(model).__name__}")


def _nodes(model: nn.Module) -> tuple[str, list[str]]:
    """The module-name prefix and ids of the rows: ``model.nodes``' children, else top-level children."""
    nodes = getattr(model, "nodes", None)
    if isinstance(nodes, nn.ModuleDict):
        return "nodes.", list(nodes.keys())
    return "", [name for name, _ in model.named_children()]


def _params_by_node(model, node_fqn) -> dict[str, int]:
    """Parameters per node; a parameter shared by several nodes counts in the first one only."""
    seen, out = set(), {}
    for node, fqn in node_fqn.items():
        n = 0
        for p in model.get_submodule(fqn).parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        out[node] = n
    return out


@contextlib.contextmanager
def _eval_no_grad(model):
    was = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for m, training in was.items():
            m.training = training


def _reraise(name: str, x, exc: Exception):
    """Re-raise a counter's failure as a clear error: SpecErrors and ValueErrors as they are,
    anything else (a raw shape error from deep inside PyTorch) as a ValueError naming the input."""
    from archlab.errors import SpecError

    if isinstance(exc, (SpecError, ValueError)):
        raise exc
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    raise ValueError(f"{name} could not run the model on an input of shape {tuple(x.shape)}: {first}") from exc


def _run_fvcore(model, x):
    """fvcore's total, its inclusive ``{module name: {operator: MACs}}`` (root = "") and
    ``{module name: operators it met but has no handle for}``."""
    from fvcore.nn import FlopCountAnalysis

    with _eval_no_grad(model):
        try:
            analysis = FlopCountAnalysis(model, x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            total = int(analysis.total())
            incl = {name: {op: int(v) for op, v in ops.items() if v}
                    for name, ops in analysis.by_module_and_operator().items()}
            unsupported = {name: set(analysis.unsupported_ops(name)) for name in incl}
        except Exception as exc:  # noqa: BLE001 - reported as a clear error naming the input
            _reraise("fvcore", x, exc)
    return total, incl, unsupported


def _meta_copy(model):
    """A deep copy whose parameters and buffers are empty ``meta`` tensors (no data copied).

    A GraphModel's ``_meta_twin`` (its size checker, already on ``meta``) is shared, not copied.
    """
    memo = {}
    twin = model.__dict__.get("_meta_twin")
    if isinstance(twin, nn.Module):
        memo[id(twin)] = twin
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo)


def _run_shape_counters(model, x, meta: bool):
    """torch's and thop's counts from one forward of a throw-away copy: a ``meta`` copy when
    possible (shapes only, no arithmetic), else a real copy on ``x``'s device."""
    if meta:
        try:
            return _run_torch_and_thop(_meta_copy(model), torch.empty_like(x, device="meta")) + (True,)
        except Exception:  # noqa: BLE001 - a model that cannot run on meta is counted for real
            pass
    try:
        return _run_torch_and_thop(copy.deepcopy(model), x) + (False,)
    except Exception as exc:  # noqa: BLE001
        _reraise("torch FlopCounterMode / thop", x, exc)


def _run_torch_and_thop(model, x):
    """thop's profile (which runs the forward, in eval mode, without gradients) inside torch's
    FlopCounterMode: one forward serves both. ``model`` must be a throw-away copy: thop leaves
    ``total_ops``/``total_params`` buffers on modules it does not hook.

    FlopCounterMode's keys are ``"Global"`` and module paths from the root's class name
    (``"GraphModel"``, ``"GraphModel.nodes.enc1"``, ...); they become ``named_modules()`` names.
    Returns ``(torch total FLOPs, {module: {op: FLOPs}}, thop total MACs, {module: MACs},
    names of the modules thop hooks)``; per-module figures are inclusive, the root is ``""``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import thop

        with FlopCounterMode(display=False, custom_mapping=_torch_extra_formulas()) as counter:
            total_h, _, tree = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    root = type(model).__name__
    incl_t: dict[str, dict[str, int]] = {}
    for key, ops in counter.get_flop_counts().items():
        if key == root or key.startswith(root + "."):
            merged: dict[str, int] = defaultdict(int)
            for op, v in ops.items():
                merged[_torch_op_name(op)] += int(v)
            incl_t[key[len(root) + 1:]] = {op: v for op, v in merged.items() if v}
    incl_h = {"": int(round(total_h))}

    def walk(prefix, subtree):  # thop's ret_layer_info: {child: (ops, params, its subtree)}
        for name, (ops, _params, children) in subtree.items():
            incl_h[prefix + name] = int(round(ops))
            walk(prefix + name + ".", children)

    walk("", tree)
    table, hooked = _thop_table(), set()

    def find(fqn, module):  # as thop's dfs_count: a hooked module ends the descent
        if type(module) in table and not isinstance(module, (nn.Sequential, nn.ModuleList)):
            hooked.add(fqn)
            return
        for name, child in module.named_children():
            find(f"{fqn}.{name}" if fqn else name, child)

    find("", model)
    return int(counter.get_total_flops()), incl_t, int(round(total_h)), incl_h, hooked


def _torch_extra_formulas() -> dict:
    """FlopCounterMode has no formula for the CPU flash-attention kernel that
    ``F.scaled_dot_product_attention`` runs on CPU tensors; use its sdpa formula there too (on
    ``meta`` and CUDA tensors sdpa is already counted)."""
    from torch.utils.flop_counter import sdpa_flop_count

    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is None:
        return {}

    def cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    return {op: cpu_sdpa_flop}


def _torch_op_name(packet) -> str:
    name = str(packet)
    name = name[5:] if name.startswith("aten.") else name
    return _TORCH_OP_NAMES.get(name, name)


def _thop_table() -> dict:
    return importlib.import_module("thop.profile").register_hooks


# --------------------------------------------------------------------------------------------
# Per-operator bookkeeping


def _sum(ops: dict) -> int:
    return int(sum(ops.values()))


def _minus(total: dict, *parts: dict) -> dict:
    out = defaultdict(int, total)
    for part in parts:
        for k, v in part.items():
            out[k] -= v
    return {k: v for k, v in out.items() if v}


def _children(fqn: str, modules: dict) -> list[str]:
    module = modules[fqn]
    return [f"{fqn}.{name}" if fqn else name for name, _ in module.named_children()
            if (f"{fqn}.{name}" if fqn else name) in modules]


def _type_name(cls) -> str:
    if cls.__module__.startswith("torch.nn"):
        return f"nn.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _thop_by_type(fqn, modules, hooked, incl_h, skip=frozenset()) -> dict[str, int]:
    """thop's MACs under ``fqn`` grouped by the type of the module that thop hooked."""
    out: dict[str, int] = defaultdict(int)

    def walk(name):
        if name in hooked:
            if incl_h.get(name, 0):
                out[_type_name(type(modules[name]))] += incl_h[name]
            return
        for child in _children(name, modules):
            if child not in skip:
                walk(child)

    walk(fqn)
    return dict(out)


def _split_for_thop(fqns, skip, modules, hooked, incl):
    """A counter's operators under ``fqns`` split by where thop stands: inside modules thop
    hooks (``{type: {op: MACs}}``) or outside them (``{(op, where): MACs}``, ``where`` naming
    the module whose forward makes the functional call, or the leaf type thop has no rule for)."""
    inside: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    unseen: dict[tuple[str, str], float] = defaultdict(float)
    table = _thop_table()

    def walk(name):
        cls = type(modules[name])
        if name in hooked:
            for op, v in incl.get(name, {}).items():
                inside[_type_name(cls)][op] += v
            return
        children = _children(name, modules)
        own = _minus(incl.get(name, {}), *(incl.get(c, {}) for c in children))
        subclass_of = next((b for b in cls.__mro__[1:] if b in table and b is not nn.Sequential), None)
        for op, v in own.items():
            if v <= 0:
                continue
            if children or (subclass_of is None and not cls.__module__.startswith("torch.nn")):
                where = f"functional {_FUNCTIONAL.get(op, op)} in {cls.__name__}.forward"
            elif subclass_of is not None:
                where = (f"in {_type_name(cls)} modules, a subclass of {_type_name(subclass_of)}: "
                         f"thop matches exact types only")
            else:
                where = f"in {_type_name(cls)} modules, a type thop has no rule for"
            unseen[(op, where)] += v
        for child in children:
            if child not in skip:
                walk(child)

    for fqn in fqns:
        walk(fqn)
    return inside, unseen


def _complete(incl: dict, modules: dict) -> dict:
    """Give modules that were never called (a ModuleDict) the sum of their children's operators."""
    incl = dict(incl)
    for name in sorted(modules, key=lambda n: -n.count(".") if n else 1):
        if name not in incl:
            incl[name] = _plus(*(incl.get(c, {}) for c in _children(name, modules)))
    return incl


def _plus(*parts: dict) -> dict:
    out = defaultdict(int)
    for part in parts:
        for k, v in part.items():
            out[k] += v
    return {k: v for k, v in out.items() if v}


# --------------------------------------------------------------------------------------------
# Disagreements


@dataclass
class _Context:
    """One row of the table and everything needed to explain its counters' differences."""

    node: str
    fqns: list  # the node's module name, or [""] for the outside row
    skip: frozenset  # module names left out (the nodes, for the outside row)
    modules: dict
    hooked: set
    incl: dict  # counter -> {module name: {op: MACs}} (torch already halved), complete
    incl_h: dict
    unsupported_f: dict  # fvcore's {module name: operators without a handle}

    def fvcore_unhandled(self) -> list[str]:
        """Operators fvcore met in this row without a handle, of the multiply-accumulate kind."""
        ops = set().union(*(self.unsupported_f.get(f, set()) for f in self.fqns))
        return sorted(op for op in ops if any(k in op for k in ("attention", "mm", "conv", "einsum", "linear")))

    def ops(self, counter) -> dict[str, float]:
        """The counter's operators in this row, in MACs."""
        incl = self.incl[counter]
        return _minus(_plus(*(incl.get(f, {}) for f in self.fqns)), *(incl.get(f, {}) for f in self.skip))

    def split(self, counter):
        return _split_for_thop(self.fqns, self.skip, self.modules, self.hooked, self.incl[counter])

    def thop_types(self) -> dict[str, int]:
        return _plus(*(_thop_by_type(f, self.modules, self.hooked, self.incl_h, self.skip) for f in self.fqns))


def _h(v: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= unit:
            return f"{v / unit:.3g}{suffix}"
    return f"{v:.3g}" if v != int(v) else str(int(v))


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _disagreements(ctx: _Context, macs: dict[str, float]) -> list[dict]:
    """One entry per pair of counters whose MACs on this row differ by more than 2% of the larger."""
    out = []
    for a, b in (("fvcore", "thop"), ("fvcore", "torch"), ("thop", "torch")):
        big = max(macs[a], macs[b])
        if big <= 0 or abs(macs[a] - macs[b]) <= DISAGREE_REL * big:
            continue
        if "thop" in (a, b):
            items, notes = _explain_thop(ctx, a if b == "thop" else b), {}
        else:
            items, notes = _explain_fvcore_torch(ctx)
        out.append({"node": ctx.node, "counters": (a, b), "macs": {a: macs[a], b: macs[b]},
                    "rel_diff": abs(macs[a] - macs[b]) / big, "explanation": _sentence(items, notes)})
    return out


def _sentence(items: list[tuple[float, str, str]], notes: dict[str, str]) -> str:
    """Items are (MAC difference, clause opening, text). The largest, covering 99% of the gap
    (at most five), become one sentence; texts sharing an opening form one clause ("thop counts
    0 of fvcore's 1.2M a and 3.4M b"), followed by that opening's note, if any."""
    items = sorted((i for i in items if i[0]), key=lambda i: -abs(i[0]))
    if not items:
        return "no operator-level difference found (the counters attribute the same operators differently)"
    gap, kept, covered = sum(abs(i[0]) for i in items), [], 0.0
    for item in items:
        if covered >= 0.99 * gap or len(kept) == 5:
            break
        kept.append(item)
        covered += abs(item[0])
    groups: dict[str, list[str]] = {}
    for _, opening, text in kept:
        groups.setdefault(opening, []).append(text)
    clauses = [" ".join(filter(None, (opening, _and(texts), notes.get(opening, ""))))
               for opening, texts in groups.items()]
    rest = len(items) - len(kept)
    return "; ".join(clauses) + (f" (+{rest} smaller difference{'s' * (rest > 1)})" if rest else "")


def _explain_thop(ctx: _Context, other: str) -> list[tuple[float, str, str]]:
    """Why thop and ``other`` (fvcore or torch) differ: operators outside the modules thop
    hooks, and hooked module types that the two count under different rules."""
    inside, unseen = ctx.split(other)
    items = [(v, f"thop counts 0 of {other}'s", f"{_h(v)} {op} ({where})") for (op, where), v in unseen.items()]
    thop_types = ctx.thop_types()
    for t in sorted(set(thop_types) | set(inside)):
        h, ops = thop_types.get(t, 0), {k: v for k, v in inside.get(t, {}).items() if v}
        theirs = sum(ops.values())
        if not math.isclose(h, theirs):
            what = ", ".join(f"{_h(v)} {op}" for op, v in sorted(ops.items(), key=lambda kv: -kv[1])) or "0"
            rule = next((r for prefix, r in _THOP_RULES.items() if t.startswith("nn." + prefix)), None)
            items.append((h - theirs, "", f"thop counts {_h(h)} in {t} modules" + (f" ({rule})" if rule else "")
                          + f" where {other} counts {what}"))
    return items


def _explain_fvcore_torch(ctx: _Context):
    """Why fvcore and torch differ: operator families one has a rule for and the other not."""
    fam_f, fam_t = defaultdict(dict), defaultdict(dict)
    for op, v in ctx.ops("fvcore").items():
        fam_f[_FAMILY.get(op, op)][op] = v
    for op, v in ctx.ops("torch").items():
        fam_t[_FAMILY.get(op, op)][op] = v
    items = []
    for fam in sorted(set(fam_f) | set(fam_t)):
        f, t = fam_f.get(fam, {}), fam_t.get(fam, {})
        fs, ts = sum(f.values()), sum(t.values())
        if math.isclose(fs, ts):
            continue
        if not ts:
            items += [(v, "torch counts 0 of fvcore's", f"{_h(v)} {op}") for op, v in f.items()]
        elif not fs:
            items += [(v, "fvcore counts 0 of torch's", f"{_h(v)} {op}") for op, v in t.items()]
        else:
            def listing(ops):
                return ", ".join(f"{_h(v)} {op}" for op, v in ops.items())
            items.append((fs - ts, "", f"fvcore counts {listing(f)} where torch counts {listing(t)}"))
    unhandled = ctx.fvcore_unhandled()
    notes = {"torch counts 0 of fvcore's": "(FlopCounterMode has formulas for convolution, matmul and attention only)",
             "fvcore counts 0 of torch's": (f"(fvcore has no handle for {_and(unhandled)})" if unhandled
                                            else "(fvcore has no handle for it)")}
    return items, notes
