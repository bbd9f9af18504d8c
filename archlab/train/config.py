"""Training settings: one dataclass, validated up front, hashed into every record and checkpoint."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from archlab.data import DATASETS
from archlab.errors import ArchlabError
from archlab.hashing import digest

AMP_MODES = ("auto", "off", "fp16", "bf16")


class ConfigError(ArchlabError):
    """A training setting that is not valid; the message names it and what would be."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result (and nothing that does not, such as ``out``).

    The defaults are the embedded CPU budget: synthstreets at 128x256, 600 steps of batch 16
    (about four minutes for Fast-SCNN on two CPU cores). Optimiser: SGD with Nesterov-free momentum,
    poly decay ``lr * (1 - step/steps) ** power`` after a linear warm-up, weight decay on every
    parameter, cross-entropy with the ignore index (OHEM optional: Shrivastava et al., CVPR 2016,
    as used for segmentation by BiSeNet and FASSD-Net).
    """

    data: str = "synthstreets"
    data_root: str | None = None
    size: tuple[int, int] = (128, 256)       # working resolution = crop size (H, W)
    steps: int = 600
    batch: int = 16                          # per process
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    power: float = 0.9
    warmup_steps: int = 50
    ohem: bool = False
    ohem_thresh: float = 0.7
    ohem_min_kept: float = 1 / 16             # fraction of a batch's valid pixels always kept
    scale: tuple[float, float] = (0.75, 1.5)  # random scale range of the working resolution
    flip: bool = True
    seed: int = 0                            # weights, data order, augmentation
    data_seed: int = 0                       # synthstreets scene seed
    train_length: int | None = None          # synthstreets: number of training scenes (default 2000)
    eval_split: str = "val"
    eval_length: int | None = None           # evaluate on the first N images of the split (None: all)
    eval_batch: int = 8
    device: str = "cpu"
    amp: str = "auto"                        # auto = fp16 autocast on CUDA, off on CPU
    channels_last: bool = False              # NHWC weights and images (see the note below)

    # channels_last: 8-12% faster training steps on this project's 2-core CPU for Fast-SCNN, FASSD-Net,
    # FANet-18 and NDNet, no change for FC-HarDNet-70; off by default because torch 2.13.0's CPU
    # backward crashes (segmentation fault) on DFANet-A in this layout.

    def __post_init__(self):
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        self.validate()

    def validate(self) -> None:
        def bad(name, why):
            raise ConfigError(f"training setting {name}={getattr(self, name)!r}: {why}")

        if self.data not in DATASETS:
            bad("data", f"valid datasets are {', '.join(DATASETS)}")
        if len(self.size) != 2 or min(self.size) < 16:
            bad("size", "must be (H, W) with both sides >= 16 pixels")
        for name in ("steps", "batch", "eval_batch"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool) \
                    or getattr(self, name) < 1:
                bad(name, "must be a positive integer")
        for name in ("train_length", "eval_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                bad(name, "must be a positive number of images, or None for the whole split")
        for name in ("seed", "data_seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                bad(name, "must be a non-negative integer")
        if not self.lr > 0:
            bad("lr", "must be > 0")
        if not 0 <= self.momentum < 1:
            bad("momentum", "must be in [0, 1)")
        if self.weight_decay < 0:
            bad("weight_decay", "must be >= 0")
        if self.warmup_steps < 0:
            bad("warmup_steps", "must be >= 0")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            bad("scale", "must be (low, high) with 0 < low <= high")
        if not 0 < self.ohem_thresh <= 1 or not 0 < self.ohem_min_kept <= 1:
            bad("ohem_thresh" if not 0 < self.ohem_thresh <= 1 else "ohem_min_kept", "must be in (0, 1]")
        if self.amp not in AMP_MODES:
            bad("amp", f"valid: {', '.join(AMP_MODES)}")
        if self.amp in ("fp16", "bf16") and not str(self.device).startswith("cuda"):
            bad("amp", f"mixed precision runs on CUDA only, and the device is {self.device!r}; use 'off' or 'auto' "
                       f"(fp16 autocast on CUDA, off elsewhere)")
        if not isinstance(self.channels_last, bool):
            bad("channels_last", "must be True or False")
        if self.eval_split not in ("train", "val", "test"):
            bad("eval_split", "valid: train, val, test")

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): linear warm-up, then poly decay to 0 at ``steps``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / (self.warmup_steps + 1)
        return self.lr * (1 - step / self.steps) ** self.power

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training settings {unknown}; valid: {', '.join(sorted(known))}")
        return cls(**data)

    def result_hash(self) -> str:
        """Hash of the settings that change the trained weights (the device and AMP mode included)."""
        return digest(self.to_dict())

    def differences(self, other: "TrainConfig") -> dict:
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}
