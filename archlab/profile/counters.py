"""Parameters and four operation counters (fvcore, thop, torch, ptflops), reconciled, per node.

The counters are one table, ``COUNTERS``: ``{name: Counter}``, each :class:`Counter` naming its
unit (``"MACs"`` or ``"FLOPs"``), whether it hooks modules or sees operators, and how it runs
(``Counter.run(model, x)`` gives its :class:`Tally`, the figures per module). Adding a counter is
one entry there; its column (``macs_NAME``/``flops_NAME``) then appears in the totals, the per-node
table and the record.

``count(model, x)`` runs each counter once on ``x`` (the model in eval mode, no gradients) and
returns :class:`Counts`: the totals, a per-node table whose rows sum exactly to the totals, each
counter's per-operator figures per node, and, wherever two counters differ by more than 2% on
a node, a sentence naming the operators responsible.

Units: fvcore, thop and ptflops report MACs (one per multiply-add); torch's ``FlopCounterMode``
reports FLOPs (two per multiply-add). They are never mixed under one name: ``macs_fvcore``,
``macs_thop``, ``macs_ptflops``, ``flops_torch``; comparisons between counters use
``flops_torch / 2``.

What each counter counts (read from its source: fvcore 0.1.5 ``nn/flop_count.py`` and
``nn/jit_handles.py``, thop 0.1.1 ``profile.py`` and ``vision/basic_hooks.py``, torch 2.13
``utils/flop_counter.py``, ptflops 0.7.5 ``flops_counter.py``, ``pytorch_engine.py`` and
``pytorch_ops.py``):

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
  subclasses do not match (archlab's ``archlab.blocks.conv.PooledBatchNorm2d``, used only in branches
  that pool to 1x1, counts 0), and functional calls (``F.interpolate``, ``torch.bmm``) are
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
- **ptflops** is the counter of the published tables (FASSD-Net's authors count with
  ``ptflops.get_model_complexity_info`` in their ``opCounter.py``). archlab runs its ``'pytorch'``
  backend: the one that call gets (it passes no ``backend``; in 0.7.5's code the default is
  ``'pytorch'``, although its README says ``'aten'``), with its default
  ``count_functional=True``. It hooks *modules* whose exact type is in its table
  (``pytorch_ops.MODULES_MAPPING``): subclasses count 0 (archlab's ``archlab.blocks.conv.PooledBatchNorm2d``
  among them), and a hooked module's count stands for its whole subtree. Module rules:
  ``Conv*d`` as fvcore **plus 1 per output element for a bias**; ``ConvTranspose*d`` the kernel
  MACs at every *input* position plus the bias; ``Linear`` ``in_features`` per output element,
  plus 1 with a bias; ``BatchNorm*d``, ``InstanceNorm*d``, ``GroupNorm`` ``2`` per element with
  affine (``1`` without); ``LayerNorm`` ``1`` per element (the rule reads ``affine``, which
  ``LayerNorm`` lacks); ``ReLU``, ``PReLU``, ``ELU``, ``LeakyReLU``, ``ReLU6``, ``GELU`` ``1`` per
  element; ``MaxPool*``, ``AvgPool*`` and the adaptive ones ``1`` per *input* element;
  ``Upsample`` ``1`` per output element, any mode; every other type 0. While counting it also
  replaces functionals with counting wrappers, so calls from any forward count:
  ``F.relu``, ``F.prelu``, ``F.elu``, ``F.relu6``, ``F.gelu``, ``F.silu``, ``F.softmax`` and the
  ``F.*pool*d`` functions ``1`` per input element; ``F.interpolate`` ``1`` per output element
  (any mode); ``torch.matmul``/``mm``/``bmm`` and their ``Tensor`` methods one per multiply-add;
  ``torch.addmm``/``baddbmm`` that plus 1 per element of the added input; ``torch.mul``,
  ``torch.add``, ``Tensor.mul``, ``Tensor.add`` 1 per output element. A hooked module whose
  forward calls a wrapped functional counts twice: ``nn.ReLU``, ``nn.PReLU``, ``nn.ELU``,
  ``nn.GELU``, the pooling modules and ``nn.Upsample`` give ``2`` per element (``nn.LeakyReLU``
  and ``nn.ReLU6`` call ``F.leaky_relu``/``F.hardtanh``, not wrapped: ``1``); ``nn.Softmax`` and
  ``nn.SiLU`` count ``1`` through ``F.softmax``/``F.silu``. Not seen: ``a + b``, ``a * b``,
  ``a @ b``, in-place ops, and ``F.conv2d``, ``F.linear``, ``F.batch_norm``, ``F.normalize``,
  ``F.scaled_dot_product_attention``, ``F.leaky_relu`` called directly. ptflops before 0.7.1
  (the FASSD-Net authors' time, 2020) had the module hooks only. archlab calls
  ``get_model_complexity_info`` itself (``print_per_layer_stat=False``, output to a null stream)
  and attributes each count as it happens: a hook's to its module, a wrapped functional's to the
  module whose forward called it (under the functional's name, ``"F.relu"``, ``"torch.bmm"``,
  next to the module types ``"nn.Conv2d"``); the attributed counts are checked against ptflops'
  figure (a remainder would show as ``"(not attributed)"`` in the outside row). ptflops divides
  its hook counts, not its functional counts, by the batch; archlab reports the whole input's
  count, as for the other counters (the same figure at batch 1, as records count). Afterwards
  every name ptflops replaced in ``torch``, ``torch.Tensor`` and ``torch.nn.functional`` is as
  before, and the model was never touched (ptflops runs on a copy).

Speed: fvcore needs a real forward (its jit trace cannot run on ``meta`` tensors). torch and thop
only read shapes, so by default they share one forward of a ``meta`` copy of the model (no
arithmetic: its cost does not grow with the input size); a model that cannot run on ``meta``
falls back to one real forward of a copy (``Counts.on_meta`` says which). On ``meta`` tensors
``F.scaled_dot_product_attention`` decomposes into ``bmm``'s, so torch lists it as ``bmm`` there
(the figure is the same). ptflops needs a real forward of a copy: on ``meta`` tensors PyTorch's
reference decompositions call ``torch.mul``/``torch.add``, which its wrappers would count
(fast_scnn at 64x128: 77.9M instead of 27.4M). Counting therefore costs two real forwards
(fvcore's trace and ptflops') and a ``meta`` one.
"""
from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import math
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
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
RECONCILED_FROM = "torch"  # the counter whose figure, in MACs, is macs_reconciled (RECONCILE_RULE_NAME says how)

# What a counter counts, and how many of it one multiply-add makes.
UNITS = {"MACs": 1, "FLOPs": 2}

OUTSIDE = "(outside nodes)"
DISAGREE_REL = 0.02
NOT_ATTRIBUTED = "(not attributed)"

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
# ptflops' module rules (ptflops.pytorch_ops: conv_flops_counter_hook, bn_flops_counter_hook, ...);
# the first matching prefix applies.
_PTFLOPS_RULES = {
    "ConvTranspose": "kernel MACs at every input position, plus 1 per output element for a bias",
    "Conv": "kernel MACs, plus 1 per output element for a bias",
    "Linear": "in_features per output element, plus 1 for a bias",
    "BatchNorm": "2 per element with affine, 1 without", "InstanceNorm": "2 per element with affine, 1 without",
    "GroupNorm": "2 per element with affine, 1 without", "LayerNorm": "1 per element",
    "ReLU": "1 per element", "PReLU": "1 per element", "ELU": "1 per element", "LeakyReLU": "1 per element",
    "GELU": "1 per element", "MaxPool": "1 per input element", "AvgPool": "1 per input element",
    "AdaptiveMaxPool": "1 per input element", "AdaptiveAvgPool": "1 per input element",
    "Upsample": "1 per output element, any mode",
}


@dataclass
class Counts:
    """Totals, the per-node table, per-operator figures and the counters' disagreements.

    ``params``: parameters (each shared tensor once). ``totals``: ``{column: total}``, one entry per
    counter of ``COUNTERS`` in the columns' order (``COUNT_COLUMNS``), each in its counter's unit:
    ``macs_fvcore``, ``macs_thop``, ``macs_ptflops`` in MACs, ``flops_torch`` in FLOPs; each is
    also an attribute (``counts.macs_fvcore``). ``macs_reconciled``: MACs under the reconciled rule
    (``RECONCILE_RULE``).
    ``per_node``: index = node id (``model.nodes``' children for a GraphModel, top-level children
    otherwise; a row ``"(outside nodes)"`` holds whatever ran outside them, present only when
    non-zero), columns ``params``, the counters' columns (``macs_fvcore, macs_thop, macs_ptflops,
    flops_torch``) and ``macs_reconciled``; every column sums exactly to the total.
    ``ops``: ``{node: {"fvcore": {op: MACs}, "thop": {module type: MACs}, "torch": {op: FLOPs},
    "ptflops": {module type or wrapped functional: MACs}}}`` (ptflops: ``"nn.Conv2d"`` for its
    hooks, ``"F.interpolate"``, ``"torch.bmm"`` for its functional wrappers).
    ``disagreements``: one dict per (node, pair of counters) whose MACs differ by more than 2% of
    the larger: ``node``, ``counters`` (pair), ``macs`` (``{counter: MACs}``, torch as FLOPs/2),
    ``rel_diff`` and ``explanation`` (a sentence naming the operators responsible).
    """

    params: int
    totals: dict
    macs_reconciled: int
    per_node: pd.DataFrame
    ops: dict = field(default_factory=dict)
    disagreements: list = field(default_factory=list)
    on_meta: bool = True  # torch and thop ran on a meta copy (False: they needed a real forward)

    def __getattr__(self, name: str) -> int:
        """A counter's total by its column name (``counts.flops_torch``), in that counter's unit."""
        totals = self.__dict__.get("totals") or {}
        if name in totals:
            return totals[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}; the counters' totals are "
                             f"{', '.join(totals) or 'not set'}")

    def as_record(self) -> dict:
        """The flat record fields, units in the names: ``params`` (count), each counter's total
        (``macs_*`` in MACs, ``flops_*`` in FLOPs), ``macs_reconciled`` (MACs), ``macs_rule`` (how
        it is derived) and ``counters_disagree`` (how many node/pair disagreements over 2%)."""
        return {"params": self.params, **self.totals, "macs_reconciled": self.macs_reconciled,
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
    """Count parameters and operations of ``model`` on input ``x`` with every counter of ``COUNTERS``
    (fvcore, thop, torch and ptflops); returns :class:`Counts` (MACs and FLOPs for the whole input ``x``,
    per node and in total).

    fvcore traces the model itself on ``x``; torch and thop share one forward of a ``meta`` copy
    (``meta=False``, or a model that fails on ``meta``: a real copy on ``x``'s device); ptflops
    runs a real copy on ``x``. The model is left as it was (mode, parameters, buffers, hooks),
    and so are ``torch`` and ``torch.nn.functional``.
    """
    x = _checked_input(model, x)
    prefix, node_ids = _nodes(model)
    node_fqn = {node: prefix + node for node in node_ids}

    forwards = _Forwards(model, x, meta)
    tallies = {name: counter.tally(forwards) for name, counter in COUNTERS.items()}
    by_column = [tallies[counter.name] for counter in COUNTERS_BY_COLUMN]
    params_by_node = _params_by_node(model, node_fqn)
    total_params = count_params(model)

    rows, ops = {}, {}
    for node, fqn in node_fqn.items():
        rows[node] = (params_by_node[node], *(tally.total_under(fqn) for tally in by_column))
        ops[node] = {name: tally.ops_under(fqn) for name, tally in tallies.items()}
    totals = (total_params, *(tally.total for tally in by_column))
    outside = tuple(total - sum(r[i] for r in rows.values()) for i, total in enumerate(totals))
    if any(outside):
        rows[OUTSIDE] = outside
        ops[OUTSIDE] = {name: _minus(tally.ops_under(""), *(ops[n][name] for n in node_ids))
                        for name, tally in tallies.items()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["params", *COUNT_COLUMNS]).astype("int64")
    reconciled = COUNTERS[RECONCILED_FROM]
    table["macs_reconciled"] = table[reconciled.column] // reconciled.per_multiply_add
    table.index.name = "node"

    return Counts(params=total_params, totals={column: int(t.total) for column, t in zip(COUNT_COLUMNS, by_column)},
                  macs_reconciled=int(tallies[RECONCILED_FROM].total) // reconciled.per_multiply_add,
                  per_node=table, ops=ops, disagreements=_all_disagreements(table, tallies, node_fqn, forwards.modules),
                  on_meta=forwards.on_meta)


def _all_disagreements(table: pd.DataFrame, tallies: dict, node_fqn: dict, modules: dict) -> list[dict]:
    """Every row's disagreements (see :class:`Counts`), explained from the counters' tallies."""
    incl = {name: _complete(_in_macs(tally.by_module, COUNTERS[name].per_multiply_add), modules)
            for name, tally in tallies.items() if not COUNTERS[name].hooks_modules}
    thop, ptflops = tallies["thop"], tallies["ptflops"]
    disagreements = []
    for node, row in table.iterrows():
        scope = ([node_fqn[node]], frozenset()) if node in node_fqn else ([""], frozenset(node_fqn.values()))
        context = _Context(node, *scope, modules, thop.hooked, incl, thop.module_totals, tallies["fvcore"].unhandled,
                           ptflops.hooked, ptflops.exclusive)
        disagreements += _disagreements(context, {name: int(row[counter.column]) // counter.per_multiply_add
                                                  for name, counter in COUNTERS.items()})
    return disagreements


def _in_macs(by_module: dict, per_multiply_add: int) -> dict:
    """``{module name: {key: count}}`` in MACs (the counts divided by ``per_multiply_add``)."""
    if per_multiply_add == 1:
        return by_module
    return {name: {key: v / per_multiply_add for key, v in keys.items()} for name, keys in by_module.items()}


def _checked_input(model, x) -> torch.Tensor:
    """``x`` detached, after checking that ``model`` is a module and ``x`` a tensor it takes
    (a GraphModel checks the size: a clear SpecError now, and no meta-twin forward later)."""
    _check_model(model)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor input for the model, got {type(x).__name__}")
    x = x.detach()
    check_input = getattr(model, "check_input", None)
    if callable(check_input):
        check_input(x)
    return x


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
    return int(counter.get_total_flops()), incl_t, int(round(total_h)), incl_h, _hooked(model, _thop_table())


def _hooked(model, table) -> set[str]:
    """Names of the modules a hook counter counts: those of an exact type in its ``table``, not
    below another one (as thop's dfs_count and ptflops' accumulate_flops: a hooked module's count
    stands for its subtree). Containers are never counted as such."""
    hooked = set()

    def find(fqn, module):
        if type(module) in table and not isinstance(module, (nn.Sequential, nn.ModuleList)):
            hooked.add(fqn)
            return
        for name, child in module.named_children():
            find(f"{fqn}.{name}" if fqn else name, child)

    find("", model)
    return hooked


def _run_ptflops(model, x):
    """ptflops' ``get_model_complexity_info`` (backend ``'pytorch'``, silent) on a real copy of the
    model, each count attributed as it happens.

    Returns ``(total MACs, {module name: {key: MACs}}, names of the modules ptflops hooks)``: the
    per-module figures are exclusive, keyed by the hooked module's type (``"nn.Conv2d"``) or the
    wrapped functional's name (``"F.interpolate"``, under the module whose forward called it).
    """
    from ptflops import get_model_complexity_info, pytorch_engine, pytorch_ops

    twin = copy.deepcopy(model)  # ptflops leaves methods and a batch counter on the root
    names = {id(m): name for name, m in twin.named_modules()}
    hooked = _hooked(twin, pytorch_ops.MODULES_MAPPING)
    events: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sums = {"hooks": 0.0, "functional": 0.0}
    stack = [""]

    def recording(rule):  # ptflops' own rule, then the increase it made to the module's __flops__
        def hook(module, inputs, output):
            before = module.__flops__
            rule(module, inputs, output)
            name = names.get(id(module))
            if name in hooked:  # as accumulate_flops: a hooked module inside another one is not summed
                events[name][_type_name(type(module))] += module.__flops__ - before
                sums["hooks"] += module.__flops__ - before
        return hook

    wrapper = pytorch_engine.torch_function_wrapper
    in_f = {id(v): f"F.{k}" for k, v in vars(F).items() if callable(v)}  # F.prelu is torch.prelu, too

    class Recording(wrapper):  # the class ptflops wraps each functional in, noting who called it
        def __call__(self, *args, **kwargs):
            n = len(self.collector)
            out = super().__call__(*args, **kwargs)
            if len(self.collector) > n:
                events[stack[-1]][_functional_name(self.op, in_f)] += self.collector[n]
                sums["functional"] += self.collector[n]
            return out

    def enter(name):
        def hook(module, args):
            stack.append(name)
        return hook

    def leave(module, args, output):
        stack.pop()

    handles = []
    for name, module in twin.named_modules():
        handles += [module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave)]
    import torch._dynamo  # noqa: F401 - imported lazily by some ops, it fails once ptflops has wrapped torch.add

    saved = {space: dict(vars(space)) for space in (torch, torch.Tensor, F)}
    sink = io.StringIO()
    pytorch_engine.torch_function_wrapper = Recording
    try:
        with _eval_no_grad(twin), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            total, _ = get_model_complexity_info(
                twin, tuple(x.shape[1:]), print_per_layer_stat=False, as_strings=False, input_constructor=lambda _: x,
                ost=sink, verbose=False, backend="pytorch",
                custom_modules_hooks={cls: recording(rule) for cls, rule in pytorch_ops.MODULES_MAPPING.items()})
    finally:
        pytorch_engine.torch_function_wrapper = wrapper
        pytorch_engine.CUSTOM_MODULES_MAPPING = {}  # as ptflops' own reset, even after an interrupt
        _restore(saved, wrapper)
        for handle in handles:
            handle.remove()
    if total is None:  # ptflops catches the forward's exception and prints it
        said = [line for line in sink.getvalue().splitlines() if line.startswith("<class")]
        raise ValueError(f"ptflops could not run the model on an input of shape {tuple(x.shape)}: "
                         f"{said[0] if said else sink.getvalue().strip()[:200]}")
    out = {name: {k: int(round(v)) for k, v in keys.items()} for name, keys in events.items()}
    # ptflops' figure = hook counts / batch + functional counts; anything it counted that was not
    # seen above (a future ptflops counting elsewhere) is kept, so that the rows sum to its figure.
    batch = x.shape[0] if x.ndim else 1
    missing = round(total - (sums["hooks"] / batch + sums["functional"]))
    if missing:
        out.setdefault("", {})[NOT_ATTRIBUTED] = missing
    out = {name: {k: v for k, v in keys.items() if v} for name, keys in out.items()}
    return sum(_sum(keys) for keys in out.values()), {k: v for k, v in out.items() if v}, hooked


def _functional_name(op, in_f: dict) -> str:
    """ptflops' wrapped callable as code calls it: ``Tensor.mul``, ``F.relu`` (``in_f``: ids of
    ``torch.nn.functional``'s callables), else ``torch.bmm``."""
    name = getattr(op, "__name__", str(op))
    if hasattr(op, "__objclass__"):
        return f"Tensor.{name}"
    return in_f.get(id(op), f"torch.{name}")


def _restore(saved: dict, wrapper: type) -> None:
    """Undo ptflops' replacements in ``torch``, ``torch.Tensor`` and ``F`` since ``saved`` (their
    ``vars``): ptflops un-wraps on its normal exit but leaves the Tensor methods it wrapped set on
    ``torch.Tensor`` itself, and an interrupt would leave its wrappers in place."""
    for space, before in saved.items():
        for key, value in list(vars(space).items()):
            wrapped = isinstance(value, wrapper) or (inspect.isfunction(value)
                                                      and (value.__module__ or "").startswith("ptflops"))
            if key in before:
                if wrapped and value is not before[key]:
                    setattr(space, key, before[key])
            elif wrapped or (space is torch.Tensor and any(vars(base).get(key) is value
                                                           for base in torch.Tensor.__mro__[1:])):
                delattr(space, key)


def _inclusive(events: dict) -> dict:
    """Exclusive ``{module name: {key: v}}`` -> inclusive (every ancestor, the root ``""`` too)."""
    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for name, keys in events.items():
        parts = name.split(".") if name else []
        for i in range(len(parts) + 1):
            for k, v in keys.items():
                out[".".join(parts[:i])][k] += v
    return {name: dict(keys) for name, keys in out.items()}


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
# The table of counters


@dataclass(frozen=True)
class Tally:
    """One counter's figures on one input, for the whole input, in the counter's unit (MACs or FLOPs).

    ``total``: the whole model's count. ``by_module``: ``{module name: {key: count}}``, each
    module's counts with its submodules' included, the root named ``""``; keys are ATen operators
    (``"conv"``, ``"bmm"``) for the counters that see operators (fvcore, torch), the hooked module's
    type (``"nn.Conv2d"``) or the wrapped functional (``"F.interpolate"``) for the hook counters
    (thop, ptflops). ``module_totals``: ``{module name: count}`` where the counter reports a figure
    per module itself (thop, which rounds per module); ``None``: a module's total is the sum of its
    ``by_module`` counts. ``hooked``: the modules a hook counter counts whole. ``exclusive``:
    ptflops' counts under the module each one happened in (``by_module`` before submodules are
    added). ``unhandled``: fvcore's ``{module name: operators it met without a handle}``.
    """

    total: int
    by_module: dict
    module_totals: dict | None = None
    hooked: frozenset = frozenset()
    exclusive: dict = field(default_factory=dict)
    unhandled: dict = field(default_factory=dict)

    def ops_under(self, module: str) -> dict:
        """``{key: count}`` of the module named ``module`` with its submodules (``""``: the whole
        model; a module the counter never saw: ``{}``), as a new dict."""
        return dict(self.by_module.get(module, {}))

    def total_under(self, module: str) -> int:
        """The count of the module named ``module`` with its submodules (0 if the counter never saw it)."""
        if self.module_totals is not None:
            return int(self.module_totals.get(module, 0))
        return _sum(self.by_module.get(module, {}))


class _Forwards:
    """What the counters run on (the model, the input, whether torch and thop may use a ``meta``
    copy, the model's modules by name) and the one forward torch and thop share."""

    def __init__(self, model: nn.Module, x: torch.Tensor, meta: bool):
        self.model, self.x, self.meta = model, x, meta
        self.modules = dict(model.named_modules())
        self.on_meta = True  # False once the shared forward needed a real copy
        self._torch_and_thop = None

    def torch_and_thop(self) -> tuple:
        """``_run_torch_and_thop``'s figures from the shared forward, run on first use."""
        if self._torch_and_thop is None:
            *figures, self.on_meta = _run_shape_counters(self.model, self.x, self.meta)
            self._torch_and_thop = tuple(figures)
        return self._torch_and_thop


@dataclass(frozen=True)
class Counter:
    """One operation counter: an entry of ``COUNTERS``.

    ``name`` (``"fvcore"``) and ``unit`` (``"MACs"``, one per multiply-add, or ``"FLOPs"``, two per
    multiply-add) make its column, ``macs_fvcore`` or ``flops_torch``. ``hooks_modules``: True for
    a counter that counts modules of the exact types in its table through hooks (thop, ptflops;
    its differences are explained by where it hooks), False for one that sees every ATen operator
    (fvcore, torch; its tally is keyed by operator). ``tally`` runs it on a :class:`_Forwards` and
    returns its :class:`Tally`.
    """

    name: str
    unit: str
    hooks_modules: bool
    tally: Callable[[_Forwards], Tally]

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"Counter {self.name!r}: unit={self.unit!r} is not one of "
                             f"{', '.join(map(repr, UNITS))}")

    @property
    def column(self) -> str:
        """Its key in records and tables: ``macs_NAME`` for a MAC counter, ``flops_NAME`` for a FLOP one."""
        return f"{self.unit.lower()}_{self.name}"

    @property
    def per_multiply_add(self) -> int:
        """How many of its unit one multiply-add makes: 1 for MACs, 2 for FLOPs."""
        return UNITS[self.unit]

    def run(self, model: nn.Module, x: torch.Tensor, *, meta: bool = True) -> Tally:
        """This counter alone on ``model`` at input ``x`` (eval mode, no gradients; the model is left
        as it was); returns its :class:`Tally`, counted in ``unit`` for the whole input ``x``."""
        return self.tally(_Forwards(model, _checked_input(model, x), meta))


def _fvcore_tally(forwards: _Forwards) -> Tally:
    """fvcore's MACs per ATen operator, from its jit trace of the model itself."""
    total, by_module, unhandled = _run_fvcore(forwards.model, forwards.x)
    return Tally(total, by_module, unhandled=unhandled)


def _thop_tally(forwards: _Forwards) -> Tally:
    """thop's MACs per type of the modules it hooks, from the forward it shares with torch."""
    _, _, total, module_totals, hooked = forwards.torch_and_thop()
    return Tally(total, _by_hooked_type(module_totals, hooked, forwards.modules), module_totals=module_totals,
                 hooked=frozenset(hooked))


def _torch_tally(forwards: _Forwards) -> Tally:
    """torch's FlopCounterMode FLOPs per ATen operator, from the forward it shares with thop."""
    total, by_module, *_ = forwards.torch_and_thop()
    return Tally(total, by_module)


def _ptflops_tally(forwards: _Forwards) -> Tally:
    """ptflops' MACs per hooked module type and wrapped functional, from a real forward of a copy."""
    total, exclusive, hooked = _run_ptflops(forwards.model, forwards.x)
    return Tally(total, _inclusive(exclusive), hooked=frozenset(hooked), exclusive=exclusive)


def _by_hooked_type(module_totals: dict, hooked: set, modules: dict) -> dict:
    """A hook counter's ``{module name: {type of a hooked module in it: count}}`` for every module
    (each hooked module's figure from ``module_totals``, summed up through its ancestors)."""
    out: dict[str, dict] = {}
    for name in sorted(modules, key=lambda n: -n.count(".") if n else 1):  # children before parents, root last
        if name in hooked:
            own = module_totals.get(name, 0)
            out[name] = {_type_name(type(modules[name])): own} if own else {}
        else:
            out[name] = _plus(*(out[child] for child in _children(name, modules)))
    return out


COUNTERS: dict[str, Counter] = {counter.name: counter for counter in (
    Counter("fvcore", "MACs", hooks_modules=False, tally=_fvcore_tally),
    Counter("thop", "MACs", hooks_modules=True, tally=_thop_tally),
    Counter("torch", "FLOPs", hooks_modules=False, tally=_torch_tally),
    Counter("ptflops", "MACs", hooks_modules=True, tally=_ptflops_tally),
)}
# The counters in the order of their columns (MAC counters first, then FLOP counters, each group in
# COUNTERS' order), and those columns: "params", these and "macs_reconciled" make the per-node table.
COUNTERS_BY_COLUMN = tuple(sorted(COUNTERS.values(), key=lambda counter: counter.per_multiply_add))
COUNT_COLUMNS = tuple(counter.column for counter in COUNTERS_BY_COLUMN)
# The pairs compared on every row, in the order their sentences are listed: each counter after
# every counter before it in COUNTERS.
PAIRS = tuple((a, b) for i, b in enumerate(COUNTERS) for a in list(COUNTERS)[:i])
RECONCILE_RULE_NAME = f"{COUNTERS[RECONCILED_FROM].column}/{COUNTERS[RECONCILED_FROM].per_multiply_add}"


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


def _split(fqns, skip, modules, hooked, incl):
    """A counter's operators under ``fqns`` split by where a hook counter (thop, ptflops) stands:
    inside the modules it hooks (``{type: {op: MACs}}``) or outside them (``{(op, name of the
    module whose own forward issued it): MACs}``)."""
    inside: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    own_ops: dict[tuple[str, str], float] = defaultdict(float)

    def walk(name):
        if name in hooked:
            for op, v in incl.get(name, {}).items():
                inside[_type_name(type(modules[name]))][op] += v
            return
        children = _children(name, modules)
        for op, v in _minus(incl.get(name, {}), *(incl.get(c, {}) for c in children)).items():
            if v > 0:
                own_ops[(op, name)] += v
        for child in children:
            if child not in skip:
                walk(child)

    for fqn in fqns:
        walk(fqn)
    return inside, own_ops


def _location(name, modules, table):
    """Why a hook counter with rule ``table`` does not hook module ``name``: ``("forward", class
    name)`` for work in a container's or a custom module's own forward, ``("subclass", type, base)``
    for a subclass of a type it knows, ``("norule", type)`` for a leaf type it does not know."""
    cls = type(modules[name])
    subclass_of = next((b for b in cls.__mro__[1:] if b in table and b is not nn.Sequential), None)
    if _children(name, modules) or (subclass_of is None and not cls.__module__.startswith("torch.nn")):
        return ("forward", cls.__name__)
    if subclass_of is not None:
        return ("subclass", _type_name(cls), _type_name(subclass_of))
    return ("norule", _type_name(cls))


def _where(loc, who: str, functional: str) -> str:
    if loc[0] == "forward":
        return f"functional {functional} in {loc[1]}.forward"
    if loc[0] == "subclass":
        return f"in {loc[1]} modules, a subclass of {loc[2]}: {who} matches exact types only"
    return f"in {loc[1]} modules, a type {who} has no rule for"


def _split_for_thop(fqns, skip, modules, hooked, incl):
    """A counter's operators under ``fqns`` split by where thop stands: inside modules thop
    hooks (``{type: {op: MACs}}``) or outside them (``{(op, where): MACs}``, ``where`` naming
    the module whose forward makes the functional call, or the leaf type thop has no rule for)."""
    inside, own_ops = _split(fqns, skip, modules, hooked, incl)
    unseen: dict[tuple[str, str], float] = defaultdict(float)
    for (op, name), v in own_ops.items():
        unseen[(op, _where(_location(name, modules, _thop_table()), "thop", _FUNCTIONAL.get(op, op)))] += v
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
    hooked_p: set = field(default_factory=set)  # the modules ptflops hooks
    events_p: dict = field(default_factory=dict)  # ptflops' exclusive {module name: {type or functional: MACs}}

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

    def in_row(self, name: str) -> bool:
        def under(n, f):
            return f == "" or n == f or n.startswith(f + ".")
        return any(under(name, f) for f in self.fqns) and not any(under(name, f) for f in self.skip)

    def ptflops_split(self, also=frozenset()):
        """ptflops' counts in this row: per type of hooked module (in ``hooked_p``, or in ``also``),
        ``{type: MACs}`` (the hook plus the wrapped functionals called inside) and ``{type:
        {functional: MACs}}`` (those functionals); and ``{(functional, calling module): MACs}`` for
        the functionals called outside them."""
        types: dict[str, float] = defaultdict(float)
        calls: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        free: dict[tuple[str, str], float] = defaultdict(float)
        for name, keys in self.events_p.items():
            if not self.in_row(name):
                continue
            parts = name.split(".") if name else []
            top = next((a for a in (".".join(parts[:i]) for i in range(len(parts) + 1))
                        if a in self.hooked_p or a in also), None)
            for key, v in keys.items():
                if top is None:
                    free[(key, name)] += v
                    continue
                t = _type_name(type(self.modules[top]))
                types[t] += v
                if key != t:
                    calls[t][key] += v
        return types, calls, free


def _h(v: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= unit:
            return f"{v / unit:.3g}{suffix}"
    return f"{v:.3g}" if v != int(v) else str(int(v))


def _vs(v: float, other: float) -> str:
    """``v`` as ``_h`` writes it, with the difference where both would read the same ("4.8M (+65.5k)")."""
    if _h(v) != _h(other):
        return _h(v)
    return f"{_h(v)} ({'+' if v > other else '-'}{_h(abs(v - other))})"


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _disagreements(ctx: _Context, macs: dict[str, float]) -> list[dict]:
    """One entry per pair of counters (PAIRS) whose MACs on this row differ by more than 2% of the
    larger, explained by where ptflops hooks if it is one of the two, else by where thop hooks if it
    is, else (fvcore vs torch) by operator family."""
    out = []
    for a, b in PAIRS:
        big = max(macs[a], macs[b])
        if big <= 0 or abs(macs[a] - macs[b]) <= DISAGREE_REL * big:
            continue
        if not {a, b} <= _EXPLAINED:
            explanation = f"no rule explains {a} vs {b} yet"
        else:
            if "ptflops" in (a, b):
                items, notes = _explain_ptflops(ctx, a if b == "ptflops" else b)
            elif "thop" in (a, b):
                items, notes = _explain_thop(ctx, a if b == "thop" else b), {}
            else:
                items, notes = _explain_fvcore_torch(ctx)
            explanation = _sentence(items, notes)
        out.append({"node": ctx.node, "counters": (a, b), "macs": {a: macs[a], b: macs[b]},
                    "rel_diff": abs(macs[a] - macs[b]) / big, "explanation": explanation})
    return out


# The counters whose differences _disagreements explains (a counter added to COUNTERS has its
# differences found and counted, and explained once a rule for it is added here).
_EXPLAINED = frozenset({"fvcore", "thop", "torch", "ptflops"})


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


def _listing(ops: dict) -> str:
    return ", ".join(f"{_h(v)} {op}" for op, v in sorted(ops.items(), key=lambda kv: -kv[1]))


def _rule(type_name: str, rules: dict) -> str | None:
    return next((r for prefix, r in rules.items() if type_name.startswith("nn." + prefix)), None)


def _family(op: str) -> str:
    """An operator's kind, pairing ptflops' wrapped functionals (``torch.bmm``, ``F.interpolate``)
    with the other counters' operators (``bmm``, ``upsample_bilinear2d``)."""
    name = op.rsplit(".", 1)[-1]
    if name in _FAMILY:
        return _FAMILY[name]
    if "upsample" in name or name in ("interpolate", "grid_sampler"):
        return "upsample"
    return "pool" if "pool" in name else name


# ptflops' rules for the functionals it wraps (pytorch_ops.FUNCTIONAL_MAPPING, TENSOR_OPS_MAPPING).
def _ptflops_functional_rule(key: str) -> str:
    name = key.rsplit(".", 1)[-1]
    if name in ("interpolate", "upsample"):
        return "1 per output element, any mode"
    if "pool" in name:
        return "1 per input element"
    if name in ("mul", "add"):
        return "1 per output element"
    if _FAMILY.get(name) == "matmul":
        return "1 per multiply-add" + (", plus 1 per element added" if name in ("addmm", "baddbmm") else "")
    return "1 per element"


def _explain_ptflops(ctx: _Context, other: str):
    """Why ptflops and ``other`` differ: per type of module ptflops hooks (its rule there, plus the
    wrapped functionals those modules' forwards call), then, outside those modules, per kind of
    operator and calling module (a functional one counter wraps or handles and the other does not,
    or counts under another rule)."""
    from ptflops.pytorch_ops import MODULES_MAPPING

    if other == "thop":
        types, calls, free = ctx.ptflops_split(also=ctx.hooked)
        theirs = {t: {"": v} for t, v in ctx.thop_types().items()}
        own_ops = {}
    else:
        types, calls, free = ctx.ptflops_split()
        theirs, own_ops = _split(ctx.fqns, ctx.skip, ctx.modules, ctx.hooked_p, ctx.incl[other])
    items = []
    for t in sorted(set(types) | set(theirs)):
        p, ops = types.get(t, 0), {k: v for k, v in theirs.get(t, {}).items() if v}
        if math.isclose(p, sum(ops.values())):
            continue
        how = _rule(t, _PTFLOPS_RULES) or "no rule for the type"
        if calls.get(t):
            how += ", plus " + _and([f"{_h(v)} from the wrapped {k} they call" for k, v in calls[t].items()])
        if other == "thop":
            what = _h(sum(ops.values())) + (f" ({r})" if (r := _rule(t, _THOP_RULES)) else "")
        else:
            what = _listing(ops) or "0"
        items.append((p - sum(ops.values()), "", f"ptflops counts {_vs(p, sum(ops.values()))} in {t} modules ({how}) "
                                                 f"where {other} counts {what}"))
    groups: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: (defaultdict(float), defaultdict(float)))
    for (key, name), v in free.items():
        groups[(_family(key), _location(name, ctx.modules, MODULES_MAPPING))][0][key] += v
    for (op, name), v in own_ops.items():
        groups[(_family(op), _location(name, ctx.modules, MODULES_MAPPING))][1][op] += v
    for (_, loc), (mine, ops) in groups.items():
        p, o = sum(mine.values()), sum(ops.values())
        if math.isclose(p, o):
            continue
        if not p:
            items += [(v, f"ptflops counts 0 of {other}'s",
                       f"{_h(v)} {op} ({_where(loc, 'ptflops', _FUNCTIONAL.get(op, op))})") for op, v in ops.items()]
        elif not o:
            items += [(v, f"{other} counts 0 of ptflops'", f"{_h(v)} {key} (functional {key} in {loc[1]}.forward)")
                      for key, v in mine.items()]
        else:
            place = f"in {loc[1]}.forward" if loc[0] == "forward" else f"in {loc[1]} modules"
            said = ", ".join(f"{_h(v)} {k} ({_ptflops_functional_rule(k)})" for k, v in mine.items())
            items.append((p - o, "", f"ptflops counts {said} where {other} counts {_listing(ops)} ({place})"))
    notes = {"torch counts 0 of ptflops'": "(FlopCounterMode has formulas for convolution, matmul and attention only)"}
    return items, notes
