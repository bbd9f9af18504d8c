"""Parameter and MAC counts of a built model (the profiler issue extends this to three counters)."""
from __future__ import annotations

import logging

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of parameters (every tensor in ``model.parameters()``, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def fvcore_macs(model: nn.Module, input_size, by_module: bool = False):
    """Multiply-accumulates counted by fvcore on a zero input of ``input_size`` (N, C, H, W).

    fvcore counts one per multiply-add of convs, matmuls and linear layers, plus its own rules for
    batch norm (one per element, eval mode) and bilinear upsampling (four per output element).
    Returns the total, or ``(total, {module name: MACs})`` with ``by_module``.
    """
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(model, torch.zeros(tuple(input_size)))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            total = int(analysis.total())
            per_module = analysis.by_module() if by_module else None
    finally:
        model.train(was_training)
    return (total, dict(per_module)) if by_module else total
