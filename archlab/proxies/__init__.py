"""Zero-cost accuracy proxies: rank untrained segmentation networks from one batch, no training.

    from archlab import proxies
    images, labels = proxies.proxy_batch()                     # 8 synthstreets images, 64x128
    proxies.score("naswot", archlab.get_spec("fast_scnn"), images, labels)
    proxies.score_all(spec, images, labels)                    # {name: score} for every proxy

Higher is predicted better for every proxy:

========== ===================================================== ==================================
name       what                                                  source
========== ===================================================== ==================================
synflow    ``ln`` of ``sum |theta * dR/dtheta|``, ``R`` = sum of  Tanaka et al., NeurIPS 2020;
           the output of the all-positive network on all-ones     Abdelfattah et al., ICLR 2021
           input, norms removed, float64 (:mod:`.synflow`)
naswot     ``ln det K``, ``K`` = units on which two images'       Mellor et al., ICML 2021
           ReLU codes agree; ``-inf`` if singular (:mod:`.naswot`)
grad_norm  ``||dL/dtheta||_2``, cross-entropy of the batch        Abdelfattah et al., ICLR 2021
           (:mod:`.gradients`)
snip       ``sum |theta * dL/dtheta|`` (:mod:`.gradients`)        Lee et al., ICLR 2019
params     parameter count (:mod:`.counts`)                       the baseline to beat
macs       MACs of one image at the batch's size (:mod:`.counts`) the baseline to beat
========== ===================================================== ==================================

Proxies touch nothing the caller owns: a spec is built afresh with ``torch.manual_seed(seed)``
(the initialisation a training run with that seed starts from), a module is deep-copied and
scored with its current weights (``seed`` is then unused); the global RNG state is restored.
Scores are deterministic for a given model, batch and seed. Conv/linear "weights" means the
``weight`` of every convolution and ``nn.Linear`` (biases, norms and PReLU slopes left out).
"""
from __future__ import annotations

import numpy as np
import torch

from archlab.proxies import counts, gradients, naswot, synflow
from archlab.proxies._model import private_model
from archlab.spec import Spec

PROXIES = ("synflow", "naswot", "grad_norm", "snip", "params", "macs")
NEEDS_LABELS = ("grad_norm", "snip")


def _check_name(name: str) -> None:
    if name not in PROXIES:
        raise ValueError(f"unknown proxy {name!r}; valid: {', '.join(PROXIES)}")


def score(name: str, model_or_spec, images: torch.Tensor, labels: torch.Tensor | None = None, *,
          seed: int = 0) -> float:
    """The proxy ``name`` of ``model_or_spec`` (a Spec, built with ``seed``, or a module) on one batch.

    ``images``: (N, 3, H, W) float, normalised as the model is trained on; ``labels``: (N, H, W)
    int64, 255 = ignore (needed by grad_norm and snip only).
    """
    _check_name(name)
    if not isinstance(images, torch.Tensor) or images.ndim < 2:
        raise ValueError(f"images must be a batch tensor (N, C, H, W), got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if name == "synflow":
        return synflow.synflow(model_or_spec, images, seed)
    if name == "naswot":
        return naswot.naswot(model_or_spec, images, seed)
    if name == "grad_norm":
        return gradients.grad_norm(model_or_spec, images, labels, seed)
    if name == "snip":
        return gradients.snip(model_or_spec, images, labels, seed)
    if name == "params":
        return counts.params(model_or_spec, seed)
    return counts.macs(model_or_spec, images, seed)


def score_all(model_or_spec, images: torch.Tensor, labels: torch.Tensor | None, names=PROXIES,
              seed: int = 0) -> dict[str, float]:
    """``{name: score(name, ...)}`` for ``names``, the same figures as one ``score`` call each; a spec
    is built once and grad_norm and snip share one backward pass."""
    names = tuple(names)
    for name in names:
        _check_name(name)
    model = private_model(model_or_spec, seed, images.device) if isinstance(model_or_spec, Spec) else model_or_spec
    shared = gradients.gradient_scores(model, images, labels, seed) if set(NEEDS_LABELS) <= set(names) else {}
    return {name: shared[name] if name in shared else score(name, model, images, labels, seed=seed)
            for name in names}


def proxy_batch(dataset: str = "synthstreets", size: tuple[int, int] = (64, 128), batch: int = 8, seed: int = 0,
                *, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of the ``train`` split: ``batch`` images drawn without replacement by ``seed``,
    resized to ``size`` = (H, W) and normalised as for evaluation (:func:`archlab.data.augment.eval_pair`).

    Returns ``(images (batch, 3, H, W) float32, labels (batch, H, W) int64)``; the same arguments
    give the same batch. ``root`` is the dataset directory for cityscapes and camvid.
    """
    from archlab.data import get_dataset
    from archlab.data.augment import eval_pair

    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"batch={batch!r} must be a positive integer")
    ds = get_dataset(dataset, "train", root=root, size=tuple(size))
    if batch > len(ds):
        raise ValueError(f"batch={batch} is larger than the {len(ds)} images of {dataset}'s train split")
    indices = sorted(np.random.default_rng(seed).choice(len(ds), size=batch, replace=False).tolist())
    pairs = [eval_pair(ds[i], tuple(size)) for i in indices]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


__all__ = ["NEEDS_LABELS", "PROXIES", "proxy_batch", "score", "score_all"]
