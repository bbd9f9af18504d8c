"""The baselines a proxy must beat: parameter count and multiply-accumulates.

Both come from :mod:`archlab.profile.counters`: ``params`` is ``count_params`` (every parameter
tensor once), ``macs`` is ``Counts.macs_reconciled`` (convolutions, linear layers, matrix
products and attention, one per multiply-add; ``flops_torch / 2``) for **one image** at the
batch's resolution (MACs grow linearly with the batch, so the batch size would not change a
ranking).
"""
from __future__ import annotations

import torch

from archlab.proxies._model import device_of, private_model


def params(model_or_spec, seed: int = 0) -> float:
    from archlab.profile.counters import count_params

    return float(count_params(private_model(model_or_spec, seed)))


def macs(model_or_spec, images: torch.Tensor, seed: int = 0) -> float:
    from archlab.profile.counters import count

    net = private_model(model_or_spec, seed)
    device = device_of(net, images.device)
    dtype = next((p.dtype for p in net.parameters()), torch.float32)
    x = torch.zeros((1,) + tuple(images.shape[1:]), dtype=dtype, device=device)
    return float(count(net, x).macs_reconciled)
