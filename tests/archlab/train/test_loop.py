"""Training: same seed -> same result, resume == no stop, divergence is a failure record, clear errors."""
import json
import math
from unittest import mock

import pytest
import torch
from torch import nn

from archlab.errors import SpecError, TrainingError
from archlab.train import TrainConfig, train
from archlab.zoo import get_spec

TINY = dict(size=(32, 64), steps=6, batch=2, warmup_steps=2, train_length=8, eval_length=4, eval_batch=4)


def test_same_seed_same_result_and_other_seed_differs():
    a = train("small_rf_cnn", progress=False, **TINY)
    b = train("small_rf_cnn", progress=False, **TINY)
    c = train("small_rf_cnn", progress=False, seed=1, **TINY)
    assert a["weights_sha256"] == b["weights_sha256"] and a["miou"] == b["miou"]
    assert c["weights_sha256"] != a["weights_sha256"]
    assert a["status"] == "ok" and 0 <= a["miou"] <= 1 and a["train_steps"] == 6
    assert a["miou_dataset"] == "synthstreets" and a["miou_split"] == "val" and a["miou_images"] == 4
    assert {"iou_road", "iou_sidewalk", "iou_sky"} <= set(a)


def test_channels_last_trains_in_nhwc_and_is_its_own_result():
    from archlab.train import loop

    layouts = []

    def logits(model, images, labels):
        weight = next(p for p in model.parameters() if p.ndim == 4)
        if model.training:   # the SGD steps (evaluation reads its images as they come)
            layouts.append((images.is_contiguous(memory_format=torch.channels_last),
                            weight.is_contiguous(memory_format=torch.channels_last)))
        return real(model, images, labels)

    real = loop._logits
    plain = train("small_rf_cnn", progress=False, **TINY)
    with mock.patch.object(loop, "_logits", logits):
        nhwc = train("small_rf_cnn", progress=False, channels_last=True, **TINY)
    assert layouts and all(images and weight for images, weight in layouts)
    assert nhwc["status"] == "ok" and nhwc["train_config"]["channels_last"] is True
    assert nhwc["config_hash"] != plain["config_hash"]


def test_resume_after_interrupt_equals_not_stopping(tmp_path):
    """Fast-SCNN has dropout, so this also checks that the RNG state is restored."""
    straight = train("fast_scnn", out=tmp_path / "a", progress=False, **TINY)
    real_lr_at = TrainConfig.lr_at

    def interrupt_at_step_4(self, step):
        if step == 4:
            raise KeyboardInterrupt
        return real_lr_at(self, step)

    with mock.patch.object(TrainConfig, "lr_at", interrupt_at_step_4), pytest.raises(KeyboardInterrupt):
        train("fast_scnn", out=tmp_path / "b", progress=False, **TINY)
    saved = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 4 and not (tmp_path / "b" / "record.json").exists()
    resumed = train("fast_scnn", out=tmp_path / "b", progress=False, **TINY)
    assert resumed["weights_sha256"] == straight["weights_sha256"]
    assert resumed["miou"] == straight["miou"] and resumed["final_loss"] == straight["final_loss"]


def test_a_finished_run_is_returned_not_retrained(tmp_path):
    first = train("small_rf_cnn", out=tmp_path, progress=False, **TINY)
    with mock.patch("archlab.train.loop.train_loader", side_effect=AssertionError("trained again")):
        again = train("small_rf_cnn", out=tmp_path, progress=False, **TINY)
    assert again == json.loads((tmp_path / "record.json").read_text()) and again["miou"] == first["miou"]


def test_a_checkpoint_of_other_settings_is_refused_with_the_difference(tmp_path):
    real_lr_at = TrainConfig.lr_at

    def interrupt(self, step):
        if step == 2:
            raise KeyboardInterrupt
        return real_lr_at(self, step)

    with mock.patch.object(TrainConfig, "lr_at", interrupt), pytest.raises(KeyboardInterrupt):
        train("small_rf_cnn", out=tmp_path, progress=False, **TINY)
    with pytest.raises(TrainingError, match=r"'lr': \(0.05, 0.01\)"):
        train("small_rf_cnn", out=tmp_path, progress=False, **{**TINY, "lr": 0.01})


def test_data_workers_give_the_same_batches():
    """Same scenes, crops and flips; images equal up to float rounding (interpolation's thread count)."""
    from archlab.data import get_dataset
    from archlab.train.loader import TrainStream, train_loader

    stream = TrainStream(get_dataset("synthstreets", "train", size=(32, 64), length=8), (32, 64), seed=0)
    inline = list(train_loader(stream, 2, 6, batch=3))
    workers = list(train_loader(stream, 2, 6, batch=3, workers=2))
    assert len(inline) == len(workers) == 4
    for (xa, ya), (xb, yb) in zip(inline, workers):
        assert torch.equal(ya, yb) and torch.allclose(xa, xb, atol=1e-5)


class _BlowsUp(nn.Module):
    """A model whose output turns to NaN from its third forward on."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 19, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = self.conv(x)
        return y * float("nan") if self.calls >= 3 else y


def test_a_divergent_run_ends_in_a_failure_record_not_a_zero(tmp_path):
    record = train(_BlowsUp(), out=tmp_path, progress=False, **TINY)
    assert record["status"] == "diverged" and math.isnan(record["miou"])
    assert "loss became nan at step 3 of 6" in record["failure"]
    assert record["train_steps"] == 2
    assert json.loads((tmp_path / "record.json").read_text())["status"] == "diverged"


def test_model_and_data_must_agree():
    with pytest.raises(SpecError, match="outputs 11 class scores but the dataset has 19"):
        train(get_spec("small_rf_cnn", num_classes=11), progress=False, **TINY)
    with pytest.raises(SpecError, match="fast_scnn"):
        train("fast_scnn", progress=False, **{**TINY, "size": (40, 72)})   # not divisible by the stride
