"""Gradient proxies at initialisation: grad_norm and SNIP, from one batch's cross-entropy.

- **grad_norm** (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021,
  Sec. 3): the Euclidean norm of ``dL/dtheta`` over the weights of every convolution and linear
  layer, taken together as one vector. (The authors' code sums the per-layer norms instead;
  the global norm is used here.)
- **snip** (Lee et al., "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
  ICLR 2019, Eq. 6 before normalisation; as a proxy: Abdelfattah et al. 2021):
  ``sum |theta * dL/dtheta|`` over the same weights.

``L`` is the training loss, mean pixel cross-entropy with ignore index 255
(:func:`archlab.train.loss.cross_entropy`); logits of another size than the labels are resized
bilinearly first, as :mod:`archlab.train.loop` does. The model runs in training mode (batch
norm on batch statistics, as in the authors' code) with dropout off, on a private copy, in its
own dtype (float32 for a spec).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from archlab.data.base import IGNORE_INDEX
from archlab.proxies._model import conv_linear_weights, dropout_off, private_model


def loss_gradients(model_or_spec, images: torch.Tensor, labels: torch.Tensor, seed: int = 0):
    """``(weights, gradients)`` of the batch's cross-entropy for every conv/linear weight."""
    from archlab.train.loss import cross_entropy

    if labels is None:
        raise ValueError("grad_norm and snip need labels: a (N, H, W) int64 tensor (255 = ignore)")
    if labels.shape[0] != images.shape[0] or labels.ndim != 3:
        raise ValueError(f"labels must be (N, H, W) for images {tuple(images.shape)}, got {tuple(labels.shape)}")
    if not bool((labels != IGNORE_INDEX).any()):
        raise ValueError("every label is 255 (ignore): the loss is undefined")
    net = dropout_off(private_model(model_or_spec, seed, images.device).train())
    weights = conv_linear_weights(net)
    if not weights:
        raise ValueError("the model has no convolution or linear weights to score")
    for w in weights:
        w.requires_grad_(True)
    dtype, device = weights[0].dtype, weights[0].device
    with torch.enable_grad():
        logits = net(images.to(device, dtype))
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
        loss = cross_entropy(logits, labels.to(device, torch.long))
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [(w.detach(), g if g is not None else torch.zeros_like(w)) for w, g in zip(weights, grads)]


def gradient_scores(model_or_spec, images, labels, seed: int = 0) -> dict[str, float]:
    """``{"grad_norm": ..., "snip": ...}`` from one backward pass."""
    pairs = loss_gradients(model_or_spec, images, labels, seed)
    return {"grad_norm": math.sqrt(sum(float(g.double().pow(2).sum()) for _, g in pairs)),
            "snip": sum(float((w.double() * g.double()).abs().sum()) for w, g in pairs)}


def grad_norm(model_or_spec, images, labels, seed: int = 0) -> float:
    """``||dL/dtheta||_2`` over all conv/linear weights together."""
    return gradient_scores(model_or_spec, images, labels, seed)["grad_norm"]


def snip(model_or_spec, images, labels, seed: int = 0) -> float:
    """``sum |theta * dL/dtheta|`` over all conv/linear weights."""
    return gradient_scores(model_or_spec, images, labels, seed)["snip"]
