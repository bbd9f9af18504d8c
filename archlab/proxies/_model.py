"""The throw-away model every proxy works on, and the parts of it the proxies read.

A proxy never touches the caller's module: a spec is built afresh (``torch.manual_seed(seed)``
then :func:`archlab.build`, the order :mod:`archlab.train.loop` uses, so seed ``s`` scores the
very initialisation a training run with seed ``s`` starts from), a module is deep-copied. The
global RNG state is restored afterwards.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from archlab.spec import Spec

# Normalisation layers: synflow removes them (see archlab.proxies.synflow).
NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def private_model(model_or_spec, seed: int = 0, device=None) -> nn.Module:
    """A model the caller does not own: ``model_or_spec`` built with ``seed``, or a deep copy of it."""
    if isinstance(model_or_spec, Spec):
        from archlab.graph import build

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build(model_or_spec)
        return model if device is None else model.to(device)
    if isinstance(model_or_spec, nn.Module):
        return copy.deepcopy(model_or_spec)
    raise ValueError(f"model_or_spec must be an archlab.Spec (archlab.get_spec('fast_scnn')) or a torch.nn.Module, "
                     f"got {type(model_or_spec).__name__}")


def device_of(model: nn.Module, default: torch.device) -> torch.device:
    return next((p.device for p in model.parameters()), default)


def dropout_off(model: nn.Module) -> nn.Module:
    """Dropout in eval mode (the identity), whatever mode the rest is in: no random masks in a score."""
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    return model


def conv_linear_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weight tensors of every convolution (any dimension, transposed too) and linear layer, each once."""
    seen, out = set(), []
    for m in model.modules():
        w = getattr(m, "weight", None)
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and isinstance(w, nn.Parameter) and id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out
