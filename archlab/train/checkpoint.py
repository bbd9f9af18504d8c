"""Checkpoints that resume exactly: weights, optimiser, AMP scaler, RNG state, step and clock.

A checkpoint also carries the spec (JSON) and the training settings, so ``python -m
archlab.evaluate CHECKPOINT`` rebuilds the model with nothing else. Files are written to a
temporary name and renamed, so an interrupted save never leaves a half-written checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

FORMAT = "archlab-checkpoint-1"


def save(path: Path, payload: dict) -> None:
    from archlab.files import atomic_save

    atomic_save(path, lambda tmp: torch.save({"format": FORMAT, **payload}, tmp))


def load(path) -> dict:
    """Read a checkpoint written by :func:`save`; a missing or foreign file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist (a training run writes "
                                f"OUT/checkpoint.pt; pass that file or its directory)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - anything torch cannot read is "not a checkpoint"
        raise ValueError(f"{str(path)!r} is not a readable archlab checkpoint: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an archlab checkpoint (expected format {FORMAT!r})")
    return payload


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
