"""Structural diff: the layers two networks run, in execution order, aligned.

:func:`trace_layers` runs one forward with a pre- and a post-forward hook on every module that
owns parameters or buffers directly (``Conv2d``, ``BatchNorm2d`` with or without affine
parameters, ``Linear``, ``PReLU``, ...; stateless layers are skipped, so an ``nn.ReLU`` module and
an ``F.relu`` call cannot differ) and records, per call, in the order the calls start: the module
path, its type, its parameter and buffer shapes and its output shape. A module called several
times is recorded each time; its parameters count on its first call only, so the recorded calls'
parameters sum to the parameters of the modules that ran.

A layer's **type** is the first ``torch.nn`` class in its class's MRO (archlab's
``archlab.blocks.conv.PooledBatchNorm2d`` subclass is a ``BatchNorm2d``, as the reference's plain one is); its
**signature** is ``(type, parameter shapes, buffer shapes, output shape, settings)``; the
settings are those that change the output but not a shape, where they differ from PyTorch's
defaults: a convolution's dilation and padding mode, a normalisation's ``eps`` (FASSD-Net's MDA
uses 1e-3), a group norm's number of groups (:func:`layer_settings`).

:func:`structural_diff` aligns the two signature sequences with ``difflib.SequenceMatcher``
(``autojunk`` off: a network repeats the same layer far more often than the 1% its heuristic
tolerates) and reports the segments where they part: layers only one side runs and layers that
differ, with their parameters, and how much of the total parameter difference those segments and
the modules that never ran explain. :func:`shared_weights_check` goes one step further on two
structurally identical networks: it copies one side's (randomised) weights into a copy of the
other, layer by layer in execution order, and compares the outputs, which also catches what the
structure does not show (activations, resize modes, the order of an addition and a ReLU).
"""
from __future__ import annotations

import copy
import difflib
import math
from collections import Counter
from dataclasses import dataclass, field, replace

import torch
from torch import nn

LABELS = ("archlab", "reference")
LIST_LIMIT = 4  # layers named per side in a segment before "… and N more"
SETTINGS_LIMIT = 3  # segments that differ only in settings listed (all are summarised)


@dataclass(frozen=True)
class Layer:
    """One call of a module that owns parameters or buffers."""

    index: int
    path: str
    type: str
    param_shapes: tuple
    output_shape: tuple  # one shape per tensor the call returned
    params: int  # parameters this call adds: the module's own on its first call, 0 on repeats
    repeat: bool
    settings: tuple = ()  # ((name, value), ...): see layer_settings
    param_names: tuple = ()
    buffer_shapes: tuple = ()  # running statistics and other state the module owns directly

    @property
    def signature(self) -> tuple:
        return self.shapes_signature + (self.settings,)

    @property
    def shapes_signature(self) -> tuple:
        """The signature without the settings."""
        return self.type, self.param_shapes, self.buffer_shapes, self.output_shape

    def describe(self, with_path: bool = True) -> str:
        names = self.param_names or ("",) * len(self.param_shapes)
        shapes = ", ".join(f"{n} {'x'.join(map(str, s))}".strip() for n, s in zip(names, self.param_shapes))
        if not self.param_shapes and self.buffer_shapes:
            shapes = "buffers " + ", ".join("x".join(map(str, s)) or "scalar" for s in self.buffer_shapes)
        out = ", ".join("x".join(map(str, s)) for s in self.output_shape) or "no tensor"
        dil = f" {_settings_text(self.settings)}" if self.settings else ""
        count = "shared, called again" if self.repeat else f"{self.params:,} params"
        where = f" at {self.path}" if with_path else ""
        return f"{self.type}({shapes}){dil} → {out} ({count}){where}"

    def as_dict(self) -> dict:
        return {"index": self.index, "path": self.path, "type": self.type,
                "param_shapes": [list(s) for s in self.param_shapes],
                "output_shape": [list(s) for s in self.output_shape], "params": self.params,
                "repeat": self.repeat, "settings": {k: v for k, v in self.settings},
                "buffer_shapes": [list(s) for s in self.buffer_shapes]}


@dataclass
class Trace:
    """What one forward ran: the layers, the output, and parameters of modules that never ran."""

    layers: list[Layer]
    output: object
    params_total: int
    unused: dict[str, int]  # module path -> parameters owned directly, for modules never called

    @property
    def unused_params(self) -> int:
        return sum(self.unused.values())


def layer_type(module: nn.Module) -> str:
    """The first ``torch.nn`` class in the module's MRO (``nn.Module`` itself excluded), else its own name."""
    for cls in type(module).__mro__:
        if cls is nn.Module:
            break
        if cls.__module__.startswith("torch.nn.") and not cls.__name__.startswith("_"):
            return cls.__name__
    return type(module).__name__


def layer_settings(module: nn.Module) -> tuple:
    """The settings that change a layer's output without changing a shape, where they differ from
    PyTorch's defaults: ``(("dilation", (8, 1)), ("eps", 0.001), ...)``."""
    out = []
    if isinstance(module, nn.modules.conv._ConvNd):
        if any(d != 1 for d in module.dilation):
            out.append(("dilation", tuple(module.dilation)))
        if module.padding_mode != "zeros":
            out.append(("padding_mode", module.padding_mode))
    if isinstance(module, nn.GroupNorm):
        out.append(("groups", module.num_groups))
    eps = getattr(module, "eps", None)
    if isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)) and eps != 1e-5:
        out.append(("eps", eps))
    return tuple(out)


def leaf_layer_types(model: nn.Module) -> Counter:
    """Leaf modules (no children) by :func:`layer_type`, each module once."""
    return Counter(layer_type(m) for m in model.modules() if next(m.children(), None) is None)


def layer_classes(model: nn.Module) -> dict[str, set[str]]:
    """Leaf modules' exact classes per :func:`layer_type` (``{"BatchNorm2d": {"archlab.blocks.conv.PooledBatchNorm2d"}}``)."""
    out: dict[str, set[str]] = {}
    for m in model.modules():
        if next(m.children(), None) is None:
            cls = type(m)
            out.setdefault(layer_type(m), set()).add(f"{cls.__module__}.{cls.__qualname__}")
    return out


def class_differences(a: dict, b: dict) -> list[tuple[str, list[str], list[str]]]:
    """Layer types both sides have, implemented by other classes: ``(type, a's classes, b's classes)``."""
    return [(t, sorted(a[t]), sorted(b[t])) for t in sorted(set(a) & set(b)) if a[t] != b[t]]


def output_shapes(output) -> tuple:
    """The shapes of every tensor in ``output`` (tensors, tuples, lists, dicts), in order."""
    if isinstance(output, torch.Tensor):
        return (tuple(output.shape),)
    if isinstance(output, dict):
        return tuple(s for v in output.values() for s in output_shapes(v))
    if isinstance(output, (tuple, list)):
        return tuple(s for v in output for s in output_shapes(v))
    return ()


def main_output(output):
    """The network's prediction: the tensor itself, the ``"out"`` entry of a dict or its first
    tensor, the first tensor of a tuple or list (auxiliary outputs come after it by convention)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        if isinstance(output.get("out"), torch.Tensor):
            return output["out"]
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for v in output:
            found = main_output(v)
            if found is not None:
                return found
    return None


def _owns_state(module: nn.Module) -> bool:
    """Parameters or buffers of its own (a BatchNorm without affine parameters still has its statistics)."""
    return (next(module.parameters(recurse=False), None) is not None
            or next(module.buffers(recurse=False), None) is not None)


def trace_layers(model: nn.Module, x: torch.Tensor) -> Trace:
    """One forward of ``model`` on ``x`` (eval mode, inference mode) recording every call of a
    module that owns parameters or buffers; the model is left as it was (mode and hooks)."""
    from archlab.profile.latency import eval_mode

    names = {id(m): name for name, m in model.named_modules()}
    owners = [m for m in model.modules() if _owns_state(m)]
    layers: list[Layer] = []
    open_calls: list[tuple[int, nn.Module]] = []
    seen: set[int] = set()

    def pre(module, args):
        first = id(module) not in seen
        seen.add(id(module))
        named = list(module.named_parameters(recurse=False))
        shapes = tuple(tuple(p.shape) for _, p in named)
        layers.append(Layer(len(layers), names.get(id(module), "?"), layer_type(module), shapes, (),
                            sum(p.numel() for p in module.parameters(recurse=False)) if first else 0, not first,
                            layer_settings(module),
                            tuple(n for n, _ in named), tuple(tuple(b.shape) for b in module.buffers(recurse=False))))
        open_calls.append((len(layers) - 1, module))

    def post(module, args, output):
        index = next(i for i, m in reversed(open_calls) if m is module)
        open_calls.remove((index, module))
        layer = layers[index]
        layers[index] = replace(layer, output_shape=output_shapes(output))

    handles = []
    try:
        for m in owners:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        with eval_mode(model), torch.inference_mode():
            output = model(x)
    finally:
        for h in handles:
            h.remove()
    unused = {names[id(m)]: sum(p.numel() for p in m.parameters(recurse=False))
              for m in owners if id(m) not in seen and next(m.parameters(recurse=False), None) is not None}
    params_total = sum(p.numel() for p in model.parameters())
    return Trace(layers, output, params_total, unused)


@dataclass
class Segment:
    """A stretch where the two sequences differ: layers ``a[a_start:a_end]`` against ``b[b_start:b_end]``."""

    kind: str  # "replaced", "settings" (the same layers, other settings), "only archlab", "only reference"
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a: list[Layer]
    b: list[Layer]

    @property
    def params_a(self) -> int:
        return sum(layer.params for layer in self.a)

    @property
    def params_b(self) -> int:
        return sum(layer.params for layer in self.b)

    @property
    def params_delta(self) -> int:
        """archlab − reference over this segment."""
        return self.params_a - self.params_b

    def as_dict(self) -> dict:
        return {"kind": self.kind, "a_range": [self.a_start, self.a_end], "b_range": [self.b_start, self.b_end],
                "params_a": self.params_a, "params_b": self.params_b, "params_delta": self.params_delta,
                "a": [layer.as_dict() for layer in self.a], "b": [layer.as_dict() for layer in self.b]}


@dataclass
class StructuralDiff:
    """The aligned layer sequences of two networks (``a`` = archlab, ``b`` = the reference)."""

    a: Trace
    b: Trace
    segments: list[Segment]
    labels: tuple = LABELS
    moves: dict = field(default_factory=dict)  # archlab layer index -> reference layer index, same signature

    def __post_init__(self):
        if not self.moves:
            self.moves = find_moves(self.segments)

    @property
    def settings_only(self) -> bool:
        """The same layers in the same order; some with other settings (eps, dilation, ...)."""
        return bool(self.segments) and all(s.kind == "settings" for s in self.segments)

    def settings_summary(self) -> list[str]:
        """One line per (type, archlab settings, reference settings) of the layers whose settings differ."""
        counts: dict[tuple, int] = {}
        for seg in self.segments:
            if seg.kind == "settings":
                for la, lb in zip(seg.a, seg.b):
                    key = (la.type, _settings_text(la.settings), _settings_text(lb.settings))
                    counts[key] = counts.get(key, 0) + 1
        return [f"{n} {t} layer{'s' * (n != 1)}: {self.labels[0]} {sa}, {self.labels[1]} {sb}"
                for (t, sa, sb), n in counts.items()]

    @property
    def reordered_only(self) -> bool:
        """The differing segments hold the same layers on both sides, run in another order."""
        unmatched_a = sum(len(s.a) for s in self.segments)
        unmatched_b = sum(len(s.b) for s in self.segments)
        return bool(self.segments) and len(self.moves) == unmatched_a == unmatched_b

    @property
    def identical(self) -> bool:
        return not self.segments

    @property
    def params_delta(self) -> int:
        """Total parameters, archlab − reference."""
        return self.a.params_total - self.b.params_total

    @property
    def explained_by_segments(self) -> int:
        return sum(s.params_delta for s in self.segments)

    @property
    def explained_by_unused(self) -> int:
        return self.a.unused_params - self.b.unused_params

    @property
    def unexplained(self) -> int:
        """What neither the segments nor unused modules explain (matched layers shared on one side
        and not on the other, or parameters owned by no module that runs)."""
        return self.params_delta - self.explained_by_segments - self.explained_by_unused

    def verdict(self) -> str:
        la, lb = self.labels
        if self.identical:
            text = f"structurally identical: {_layers(len(self.a.layers))} in the same order"
            if self.a.unused or self.b.unused:
                text += (f" (modules that never run: {la} {self.a.unused_params:,} params, "
                         f"{lb} {self.b.unused_params:,} params)")
            return text
        first = self.segments[0]
        if self.settings_only:
            n = sum(len(s.a) for s in self.segments)
            return (f"the same {_layers(len(self.a.layers))} in the same order, {n} of them with other settings "
                    f"(first after {first.a_start} matching layers)")
        if self.reordered_only:
            return (f"the same {_layers(len(self.a.layers))}, {len(self.moves)} of them run in another order "
                    f"(first after {first.a_start} matching layers)")
        return (f"structurally different: {len(self.segments)} differing segment"
                f"{'s' * (len(self.segments) > 1)}, the first after {first.a_start} matching layers "
                f"({la} {len(self.a.layers)} layers, {lb} {len(self.b.layers)})")

    def lines(self, context: int = 2, limit: int = 20) -> list[str]:
        """The verdict, the first divergence with ``context`` matching layers before it, up to
        ``limit`` segments, and the parameter difference explained."""
        la, lb = self.labels
        width = max(len(la), len(lb))
        out = [self.verdict()]
        if not self.identical:
            first = self.segments[0]
            out.append("first divergence:")
            before = list(zip(self.a.layers[max(0, first.a_start - context):first.a_start],
                              self.b.layers[max(0, first.b_start - context):first.b_start]))
            for la_layer, lb_layer in before:
                out.append(f"  matched   {la:<{width}} #{la_layer.index} {la_layer.path}  |  "
                           f"{lb} #{lb_layer.index} {lb_layer.path}  ({la_layer.describe(with_path=False)})")
            for label, layers in ((la, first.a), (lb, first.b)):
                head = self._describe(layers[0], label == la) if layers else "(nothing here)"
                index = f"#{layers[0].index} " if layers else ""
                out.append(f"  differs   {label:<{width}} {index}{head}")
            summary = self.settings_summary()
            if summary:
                out.append("settings that differ:")
                out += [f"  {line}" for line in summary]
            out.append(f"segments (Δ params = {la} − {lb}):")
            shown = [s for s in self.segments if s.kind != "settings"]
            shown += [s for s in self.segments if s.kind == "settings"][:SETTINGS_LIMIT]  # summarised above
            shown = sorted(shown, key=lambda s: s.a_start)[:limit]
            for seg in shown:
                n = self.segments.index(seg) + 1
                out.append(f"  {n}. {seg.kind}: {la} {_span(seg.a_start, seg.a_end, seg.params_a)} vs "
                           f"{lb} {_span(seg.b_start, seg.b_end, seg.params_b)}, Δ {seg.params_delta:+,}")
                for label, layers in ((la, seg.a), (lb, seg.b)):
                    for layer in layers[:LIST_LIMIT]:
                        out.append(f"       {label:<{width}} #{layer.index} {self._describe(layer, label == la)}")
                    if len(layers) > LIST_LIMIT:
                        out.append(f"       {label:<{width}} … and {len(layers) - LIST_LIMIT} more")
            if len(self.segments) > len(shown):
                out.append(f"  … and {len(self.segments) - len(shown)} more segments (--json lists all)")
        for label, trace in ((la, self.a), (lb, self.b)):
            if trace.unused:
                names = ", ".join(f"{p} ({n:,})" for p, n in list(trace.unused.items())[:6])
                more = f", … {len(trace.unused) - 6} more" if len(trace.unused) > 6 else ""
                out.append(f"{label}: {trace.unused_params:,} params in modules that never run: {names}{more}")
        if self.params_delta or not self.identical:
            out.append(self.explanation())
        return out

    def _describe(self, layer: Layer, on_a: bool) -> str:
        """A layer, with where the other side runs the same layer when it was moved."""
        text = layer.describe()
        if on_a and layer.index in self.moves:
            text += f" [runs as {self.labels[1]} #{self.moves[layer.index]}]"
        elif not on_a:
            back = {b: a for a, b in self.moves.items()}
            if layer.index in back:
                text += f" [runs as {self.labels[0]} #{back[layer.index]}]"
        return text

    def explanation(self) -> str:
        la, lb = self.labels
        text = (f"parameter difference {la} − {lb}: {self.params_delta:+,} = differing segments "
                f"{self.explained_by_segments:+,} + modules that never run {self.explained_by_unused:+,}")
        if self.unexplained:
            text += f" + unexplained {self.unexplained:+,} (modules shared on one side only)"
        return text

    def as_dict(self) -> dict:
        return {"identical": self.identical, "verdict": self.verdict(),
                "layers": [len(self.a.layers), len(self.b.layers)],
                "params": [self.a.params_total, self.b.params_total], "params_delta": self.params_delta,
                "explained_by_segments": self.explained_by_segments,
                "explained_by_unused_modules": self.explained_by_unused, "unexplained": self.unexplained,
                "unused_modules": [self.a.unused, self.b.unused],
                "reordered_only": self.reordered_only, "moves": [[a, b] for a, b in self.moves.items()],
                "segments": [s.as_dict() for s in self.segments], "labels": list(self.labels)}


def _layers(n: int) -> str:
    return f"{n} layer{'s' * (n != 1)}"


def _settings_text(settings: tuple) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in settings) or \
        "PyTorch's defaults"


def _span(start: int, end: int, params: int) -> str:
    n = end - start
    where = f"#{start}" if n == 1 else (f"#{start}-{end - 1}" if n else f"before #{start}")
    return f"{where} ({n} layer{'s' * (n != 1)}, {params:,} params)"


def find_moves(segments: list[Segment]) -> dict[int, int]:
    """Unmatched layers one side runs in one segment and the other side runs in another (or
    elsewhere in the same one), paired by signature in order: ``{archlab index: reference index}``."""
    pool: dict[tuple, list[int]] = {}
    for seg in segments:
        for layer in seg.b:
            pool.setdefault(layer.signature, []).append(layer.index)
    moves = {}
    for seg in segments:
        for layer in seg.a:
            if pool.get(layer.signature):
                moves[layer.index] = pool[layer.signature].pop(0)
    return moves


def align(a: list[Layer], b: list[Layer]) -> list[Segment]:
    """The differing segments of two layer sequences, in order."""
    matcher = difflib.SequenceMatcher(None, [layer.signature for layer in a], [layer.signature for layer in b],
                                      autojunk=False)
    kinds = {"replace": "replaced", "delete": f"only {LABELS[0]}", "insert": f"only {LABELS[1]}"}
    segments = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        kind = kinds[tag]
        if tag == "replace" and i2 - i1 == j2 - j1 and all(
                x.shapes_signature == y.shapes_signature for x, y in zip(a[i1:i2], b[j1:j2])):
            kind = "settings"
        segments.append(Segment(kind, i1, i2, j1, j2, a[i1:i2], b[j1:j2]))
    return segments


def structural_diff(a: nn.Module | Trace, b: nn.Module | Trace, x: torch.Tensor | None = None) -> StructuralDiff:
    """Trace ``a`` (archlab's model) and ``b`` (the reference) on ``x`` (or take their traces) and align them."""
    ta = a if isinstance(a, Trace) else trace_layers(a, x)
    tb = b if isinstance(b, Trace) else trace_layers(b, x)
    return StructuralDiff(ta, tb, align(ta.layers, tb.layers))


# --------------------------------------------------------------------------------------------
# Outputs with the same weights


@dataclass
class WeightsCheck:
    """Outputs of the two networks with the same weights (``ran`` False: ``reason`` says why not)."""

    ran: bool
    reason: str = ""
    max_abs_diff: float = math.nan
    max_abs_output: float = math.nan
    tensors_copied: int = 0
    tolerance: float = 1e-4
    input_shape: tuple = field(default_factory=tuple)
    first_difference: dict | None = None  # the first layer whose output differs: index, paths, type, relative

    @property
    def relative(self) -> float:
        return self.max_abs_diff / self.max_abs_output if self.max_abs_output > 0 else self.max_abs_diff

    @property
    def equal(self) -> bool:
        return self.ran and self.relative <= self.tolerance

    def verdict(self) -> str:
        if not self.ran:
            return f"not run: {self.reason}"
        size = "x".join(map(str, self.input_shape))
        word = "outputs agree" if self.equal else "OUTPUTS DIFFER"
        text = (f"{word} with archlab's weights copied into the reference ({self.tensors_copied} tensors, "
                f"input {size}): max |Δ| {self.max_abs_diff:.3g} against max |output| {self.max_abs_output:.3g} "
                f"(relative {self.relative:.2g}, tolerance {self.tolerance:g})")
        first = self.first_difference
        if first and not self.equal:
            text += (f"; the first layer whose output differs is #{first['index']} ({first['type']}, archlab "
                     f"{first['archlab']}, reference {first['reference']}; relative {first['relative']:.2g}): "
                     "every layer before it agreed, so the cause is its settings or the parameter-free "
                     "operations between it and the layer before")
        return text

    def as_dict(self) -> dict:
        return {"ran": self.ran, "reason": self.reason or None, "equal": self.equal,
                "max_abs_diff": None if math.isnan(self.max_abs_diff) else self.max_abs_diff,
                "max_abs_output": None if math.isnan(self.max_abs_output) else self.max_abs_output,
                "relative": None if math.isnan(self.max_abs_diff) else self.relative,
                "tolerance": self.tolerance, "tensors_copied": self.tensors_copied,
                "input_shape": list(self.input_shape), "first_difference": self.first_difference}


def _randomise_constants(module: nn.Module, generator: torch.Generator) -> None:
    """Constant-initialised float tensors (BN weight 1, bias 0, running stats) get random values,
    so that swapping two of them changes the output; variances stay positive."""
    with torch.no_grad():
        for name, t in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            if t is None or not t.is_floating_point() or t.numel() < 2 or not bool((t == t.flatten()[0]).all()):
                continue
            noise = torch.rand(t.shape, generator=generator, dtype=t.dtype)
            t.copy_(0.5 + noise if "var" in name else t + 0.2 * (noise - 0.5))


def shared_weights_check(a: nn.Module, b: nn.Module, diff: StructuralDiff, x: torch.Tensor,
                         tolerance: float = 1e-4, seed: int = 0) -> WeightsCheck:
    """Copies of ``a`` and ``b``; ``a``'s constant tensors randomised; every layer's own parameters
    and buffers copied from ``a`` to its counterpart in ``b`` (the same position in execution
    order); both run on ``x``. Runs only on structurally identical networks (settings such as a
    BN's eps may differ: the check then says what they change) whose modules are called in the
    same pattern: layers run in another order are not paired (two layers with the
    same signature could be paired the wrong way round, and the check would fail for nothing)."""
    if diff.reordered_only:
        return WeightsCheck(False, f"{len(diff.moves)} layers run in another order; pairing them by signature "
                                   "could swap two alike layers")
    if not (diff.identical or diff.settings_only):
        return WeightsCheck(False, "the structures differ (the diff above says where)")
    pairs = list(zip(diff.a.layers, diff.b.layers))
    if any(la.repeat != lb.repeat for la, lb in pairs):
        return WeightsCheck(False, "a module is shared (called twice) on one side only")
    try:
        a, b = copy.deepcopy(a), copy.deepcopy(b)
    except Exception as exc:  # noqa: BLE001
        return WeightsCheck(False, f"a model cannot be copied ({type(exc).__name__}: {exc})")
    ma, mb = dict(a.named_modules()), dict(b.named_modules())
    generator = torch.Generator().manual_seed(seed)
    copied = 0
    with torch.no_grad():
        for la, lb in pairs:
            if la.repeat:
                continue
            src, dst = ma[la.path], mb[lb.path]
            _randomise_constants(src, generator)
            tensors = list(zip(src.parameters(recurse=False), dst.parameters(recurse=False)))
            bufs_a, bufs_b = list(src.buffers(recurse=False)), list(dst.buffers(recurse=False))
            if len(bufs_a) == len(bufs_b) and all(s.shape == d.shape for s, d in zip(bufs_a, bufs_b)):
                tensors += list(zip(bufs_a, bufs_b))
            else:
                shapes = [[tuple(t.shape) for t in bufs] for bufs in (bufs_a, bufs_b)]
                return WeightsCheck(False, f"buffers of {la.path} and {lb.path} differ ({shapes[0]} vs {shapes[1]})")
            for s, d in tensors:
                d.copy_(s)
                copied += 1
        a.eval()
        b.eval()
        with torch.inference_mode(), _Fingerprints(a, diff.a.layers) as fa, _Fingerprints(b, diff.b.layers) as fb:
            ya, yb = main_output(a(x)), main_output(b(x))
    if ya is None or yb is None or ya.shape != yb.shape:
        return WeightsCheck(False, "the outputs' shapes differ")
    delta = (ya.float() - yb.float()).abs().max().item()
    first = None
    for (la, lb), pa, pb in zip(pairs, fa.prints, fb.prints):
        if pa is None or pb is None or pa.shape != pb.shape:
            continue
        rel = (pa - pb).abs().max().item() / max(pa.abs().max().item(), 1e-12)
        if rel > tolerance:
            first = {"index": la.index, "type": la.type, "archlab": la.path, "reference": lb.path, "relative": rel}
            break
    return WeightsCheck(True, max_abs_diff=delta, max_abs_output=ya.float().abs().max().item(),
                        tensors_copied=copied, tolerance=tolerance, input_shape=tuple(x.shape),
                        first_difference=first)


class _Fingerprints:
    """Hooks keeping, per call of the traced layers, a sample of its output (at most 4096 evenly
    strided values of the main tensor): enough to find the first layer whose output differs
    without holding every feature map."""

    SAMPLE = 4096

    def __init__(self, model: nn.Module, layers: list[Layer]):
        modules = dict(model.named_modules())
        self.modules = list(dict.fromkeys(modules[layer.path] for layer in layers))
        self.prints: list[torch.Tensor | None] = []
        self.open: list[tuple[int, nn.Module]] = []
        self.handles = []

    def __enter__(self):
        def pre(module, args):
            self.prints.append(None)
            self.open.append((len(self.prints) - 1, module))

        def post(module, args, output):
            index = next(i for i, m in reversed(self.open) if m is module)
            self.open.remove((index, module))
            t = main_output(output)
            if t is not None:
                flat = t.detach().flatten().float()
                self.prints[index] = flat[:: max(1, flat.numel() // self.SAMPLE)][: self.SAMPLE].clone()

        for m in self.modules:
            self.handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return False
