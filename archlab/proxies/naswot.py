"""NASWOT: how differently an untrained network's ReLUs partition a batch of inputs.

Mellor et al., "Neural Architecture Search without Training", ICML 2021 (Sec. 3): each input
``i`` gets a binary code ``c_i``, one bit per rectified unit (1 where the unit's input is
positive); with ``N_A`` units, ``K_ij = N_A - d_H(c_i, c_j)`` (the number of units on which two
inputs agree) and the score is ``ln |det K|``. Networks that give different inputs more
different codes score higher.

For segmentation every unit is one channel at one pixel, so an image's code concatenates all
units of every rectifier at the batch's resolution: nothing is subsampled. ``K`` is a sum over
layers, so it is accumulated layer by layer in a forward pre-hook and the codes are never
stored together (memory: one activation map, as the forward itself). Units are read from the
rectifier's *input* (``x > 0``), which equals ``output > 0`` for every rectifier below and is
not spoiled by ``inplace=True``.

Rectifiers (the ReLU family, a kink at 0): ``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU``,
``nn.PReLU``, ``nn.RReLU`` modules; archlab's blocks create these by name (``act="relu"``,
``"relu6"``, ``"leaky_relu"``, ``"prelu"``; ``"none"`` is ``nn.Identity``). Functional
``F.relu`` calls are not seen (archlab's blocks make none). A model without rectifier modules
raises ValueError.

Mode: batch norm uses batch statistics (training mode, as in the authors' code), dropout is off.
``K`` holds integers, and its determinant is computed exactly (fraction-free Gaussian
elimination, Bareiss 1968), so a singular ``K`` (two images with the same code) scores exactly
``-inf``, not a rounding-dependent large negative number.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from archlab.proxies._model import device_of, dropout_off, private_model

RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU)
_CHUNK = 1 << 22  # units per float32 matmul: partial sums of 0/1 stay below 2**24, so exact


def agreement(codes: torch.Tensor) -> torch.Tensor:
    """``K`` of boolean ``codes`` (N, units): ``K_ij`` = number of units where codes i and j agree."""
    n, units = codes.shape
    both = torch.zeros(n, n, dtype=torch.float64, device=codes.device)
    for start in range(0, units, _CHUNK):
        x = codes[:, start:start + _CHUNK].float()
        both += (x @ x.T).double()
    on = codes.sum(1, dtype=torch.float64)
    return units - on[:, None] - on[None, :] + 2 * both  # both on + both off


def int_det(matrix: list[list[int]]) -> int:
    """Exact determinant of a square integer matrix (Bareiss' fraction-free elimination)."""
    m = [list(row) for row in matrix]
    n, sign, prev = len(m), 1, 1
    for k in range(n - 1):
        if m[k][k] == 0:
            pivot = next((i for i in range(k + 1, n) if m[i][k] != 0), None)
            if pivot is None:
                return 0
            m[k], m[pivot] = m[pivot], m[k]
            sign = -sign
        for i in range(k + 1, n):
            for j in range(k + 1, n):
                m[i][j] = (m[i][j] * m[k][k] - m[i][k] * m[k][j]) // prev
        prev = m[k][k]
    return sign * m[n - 1][n - 1] if n else 1


def kernel(model_or_spec, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The (N, N) float64 matrix ``K`` of ``images`` (exact integers)."""
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"naswot needs a batch of at least 2 images, got {n}")
    net = dropout_off(private_model(model_or_spec, seed, images.device).train())
    rectifiers = [m for m in net.modules() if isinstance(m, RECTIFIERS)]
    if not rectifiers:
        raise ValueError("naswot needs ReLU-family activation modules (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, "
                         "nn.RReLU); this model has none")
    device = device_of(net, images.device)
    k = torch.zeros(n, n, dtype=torch.float64, device=device)

    def hook(module, inputs):
        nonlocal k
        k = k + agreement(inputs[0].detach().reshape(n, -1) > 0)

    handles = [m.register_forward_pre_hook(hook) for m in rectifiers]
    try:
        with torch.no_grad():
            net(images.to(device, next((p.dtype for p in net.parameters()), images.dtype)))
    finally:
        for h in handles:
            h.remove()
    return k


def naswot(model_or_spec, images: torch.Tensor, seed: int = 0) -> float:
    """``ln det K`` of ``images`` (``-inf`` when ``K`` is singular)."""
    k = kernel(model_or_spec, images, seed)
    det = int_det(k.round().long().tolist())
    return math.log(det) if det > 0 else float("-inf")
