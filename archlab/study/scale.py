"""Scale check: can a proxy training at a small input judge the blocks a study swaps?

A block's reach is fixed in pixels of its own feature map: a 3x3 conv at dilation 18 reads
taps 18 pixels away, a pyramid pool splits its map into 6x6 bins. Shrink the input and the map
shrinks under it: on FASSD-Net's 4x8 context map at a 128x256 input, ASPP's rate-18 taps fall
outside the map for every pixel, so that branch reads only zero padding and the proxy trains a
different module from the one measured at 1024x2048.

:func:`reach_issues` runs the network once on ``meta`` tensors (no compute), watching every
``conv2d`` and adaptive pool call (modules and functional calls alike) and the node it runs in, and
lists, per node, where

- a conv's off-centre taps lie outside the map for every output pixel (``dilation x (k-1)/2``
  ≥ the map's side on that axis), or
- an adaptive pool asks for more bins than the map has pixels on an axis.

:func:`scale_flags` keeps the issues that appear at the proxy size but not at the measuring size
(what the proxy cannot judge), and :func:`smallest_clean_size` finds the smallest input (the
measuring size's aspect ratio, sides multiples of the network's stride) with no flag.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


@dataclass(frozen=True)
class ReachIssue:
    """One module of ``node`` whose reach exceeds its feature map at some input size."""

    node: str
    module: str          # which call inside the node ("conv3": its third conv2d)
    kind: str            # "dilation" or "pool"
    reach: tuple         # (dilation or bins) per axis
    map_size: tuple      # (H, W) of the map it reads

    def describe(self, block: str | None = None) -> str:
        name = f"{self.node}" + (f" ({block})" if block else "")
        h, w = self.map_size
        if self.kind == "dilation":
            rate = max(self.reach)
            return f"{name}: rate-{rate} taps read only padding on its {h}x{w} map"
        return f"{name}: pools its {h}x{w} map into {self.reach[0]}x{self.reach[1]} bins"


class ReachProbe:
    """One network built on ``meta`` (no weights in memory), probed at any input size."""

    def __init__(self, spec):
        from archlab.graph import GraphModel, infer_shapes, topological_order

        self.spec = spec
        self.shapes = infer_shapes(spec)
        self.model = GraphModel(spec, self.shapes, topological_order(spec), device="meta").eval()
        self.in_channels = self.shapes["input"].out_channels[0] if "input" in self.shapes else 3
        self._cache: dict[tuple, list[ReachIssue]] = {}

    def issues(self, size) -> list[ReachIssue]:
        """Every conv or adaptive pool whose reach exceeds its map at input ``size`` (H, W)."""
        size = tuple(int(v) for v in size)
        if size not in self._cache:
            watcher = _ReachWatcher()
            hooks = [module.register_forward_pre_hook(watcher.entering(node_id))
                     for node_id, module in self.model.nodes.items()]
            try:
                with torch.inference_mode(), watcher:
                    self.model.run(torch.empty(1, self.in_channels, *size, device="meta"))
            finally:
                for hook in hooks:
                    hook.remove()
            self._cache[size] = list(dict.fromkeys(watcher.found))
        return self._cache[size]

    def flags(self, proxy_size, measure_size) -> list[ReachIssue]:
        """Issues at ``proxy_size`` that the same module does not have at ``measure_size``."""
        at_measure = {(i.node, i.module) for i in self.issues(measure_size)}
        return [i for i in self.issues(proxy_size) if (i.node, i.module) not in at_measure]


def reach_issues(spec, size) -> list[ReachIssue]:
    return ReachProbe(spec).issues(size)


class _ReachWatcher(TorchFunctionMode):
    """Sees every conv2d and adaptive pool call (module or functional) and the node it runs in."""

    def __init__(self):
        super().__init__()
        self.node, self.count, self.found = "", 0, []

    def entering(self, node_id: str):
        def hook(_module, _args):
            self.node, self.count = node_id, 0
        return hook

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv2d:
            x, weight = args[0], args[1]
            dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
            self._conv(x, weight.shape[-2:], dilation)
        elif func in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            self._pool(args[0], _arg(args, kwargs, 1, "output_size", 1))
        return func(*args, **kwargs)

    def _conv(self, x, kernel, dilation):
        h, w = x.shape[-2:]
        self.count += 1
        offsets = [d * (k - 1) // 2 for d, k in zip(dilation, kernel)]
        if max(dilation) > 1 and any(off > 0 and off >= side for off, side in zip(offsets, (h, w))):
            self.found.append(ReachIssue(self.node, f"conv{self.count}", "dilation", tuple(dilation), (int(h), int(w))))

    def _pool(self, x, output_size):
        h, w = x.shape[-2:]
        self.count += 1
        bins = tuple(int(b) if b is not None else side for b, side in zip(_pair(output_size), (h, w)))
        if any(b > side for b, side in zip(bins, (h, w))):
            self.found.append(ReachIssue(self.node, f"pool{self.count}", "pool", bins, (int(h), int(w))))


def _arg(args, kwargs, index: int, name: str, default):
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def scale_flags(spec, proxy_size, measure_size) -> list[ReachIssue]:
    """Issues at ``proxy_size`` that the same module does not have at ``measure_size``."""
    return ReachProbe(spec).flags(proxy_size, measure_size)


def summarise(spec, flags: list[ReachIssue]) -> list[str]:
    """One line per flagged node: its worst issue, named with the node's block."""
    blocks = {n.id: n.block for n in spec.nodes}
    worst: dict[str, ReachIssue] = {}
    for issue in flags:
        current = worst.get(issue.node)
        if current is None or max(issue.reach) > max(current.reach):
            worst[issue.node] = issue
    return [issue.describe(blocks.get(node)) for node, issue in worst.items()]


def smallest_clean_size(specs, proxy_size, measure_size, multiple: int = 32):
    """The smallest input, from ``proxy_size`` up to ``measure_size`` with the measuring size's aspect
    ratio and sides divisible by ``multiple``, at which no spec in ``specs`` has a flag; None if none."""
    from archlab.errors import SpecError
    from archlab.graph import check_input_size

    probes = [ReachProbe(spec) for spec in specs]
    ratio = measure_size[1] / measure_size[0]
    h = max(multiple, -(-proxy_size[0] // multiple) * multiple)
    while h <= measure_size[0]:
        w = max(multiple, round(h * ratio / multiple) * multiple)
        try:
            for probe in probes:
                check_input_size(probe.spec, (1, probe.in_channels, h, w), probe.shapes)
        except SpecError:
            h += multiple
            continue
        if not any(probe.flags((h, w), measure_size) for probe in probes):
            return (h, w)
        h += multiple
    return None
