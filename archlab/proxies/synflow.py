"""SynFlow: the synaptic-flow saliency of a network at initialisation, as a NAS proxy.

Tanaka et al., "Pruning neural networks without any data by iteratively conserving synaptic
flow", NeurIPS 2020 (Eq. for R and the per-parameter score ``|theta * dR/dtheta|``); used as a
zero-cost accuracy proxy by Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS",
ICLR 2021 (Sec. 3), whose proxy sums the scores of the convolution and linear weights.

Procedure (on a private copy, the caller's model is untouched):

1. every normalisation layer (BatchNorm, InstanceNorm, GroupNorm, LayerNorm) is replaced by the
   identity: the "synflow" variant of Abdelfattah et al. (their ``bn=False``). Batch statistics
   of an all-ones input are constant per channel, so BN in training mode would zero every
   activation, and BN in eval mode with a trained model's running means would subtract and break
   the linearised (all-positive) network;
2. dropout off (eval mode), every parameter replaced by its absolute value, float64;
3. one all-ones input of the batch's shape with batch 1, ``R = sum(output)``;
4. ``S = sum |theta * dR/dtheta|`` over the weights of every convolution and linear layer.

The score returned is ``ln S`` (natural log). Float64 is needed: each layer multiplies ``R`` by
the sum of ``|w|`` over its fan-in (``sqrt(fan_in) / 2`` at PyTorch's default initialisation,
which archlab keeps), so ``R`` grows geometrically with depth and overflows float32 in deep
networks. Multiplicative gates square it: DFANet's fc-attention multiplies features by a
function of themselves, so ``log10 R`` doubles there, and after its third cascaded backbone the
flow exceeds float64 (about 1e308, ``ln`` 709.8) at every input size tried (64x128 to 128x256).
Such a network scores ``+inf`` (its true score is larger than any float64; a RuntimeWarning says
so): it ranks above every finite score, and networks that overflow tie. A network whose flow
reaches zero scores ``-inf``.
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from archlab.proxies._model import NORMS, conv_linear_weights, device_of, private_model


def remove_norms(model: nn.Module) -> nn.Module:
    """Replace every normalisation layer of ``model`` (in place) by ``nn.Identity``."""
    for name, module in list(model.named_modules()):
        if not name:
            continue
        if isinstance(module, NORMS):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    if isinstance(model, NORMS):
        return nn.Identity()
    return model


def synflow(model_or_spec, images: torch.Tensor, seed: int = 0) -> float:
    """``ln`` of the SynFlow score of ``model_or_spec`` at the input size of ``images``."""
    net = remove_norms(private_model(model_or_spec, seed, images.device)).eval().double()
    device = device_of(net, images.device)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
            p.requires_grad_(True)
    weights = conv_linear_weights(net)
    if not weights:
        raise ValueError("synflow: the model has no convolution or linear weights to score")
    x = torch.ones((1,) + tuple(images.shape[1:]), dtype=torch.float64, device=device)
    with torch.enable_grad():
        out = net(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    total = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None)
    if not math.isfinite(total) or not math.isfinite(float(out.detach().sum())):
        # |weights| and all-ones input are positive, so inf/nan can only come from overflow.
        warnings.warn("synflow overflows float64 on this model (the flow exceeds 1e308): scored +inf",
                      RuntimeWarning, stacklevel=2)
        return float("inf")
    return math.log(total) if total > 0 else float("-inf")
