"""Training and evaluation: ``train(model, budget) -> record with miou`` for the CLI, studies and searches.

    from archlab.train import TrainConfig, train
    record = train("fast_scnn", steps=600, size=(128, 256), out="runs/fast_scnn")
    record["miou"], record["train_time_s"]
"""
from archlab.train.config import TrainConfig
from archlab.train.loop import evaluate, miou_fields, resolve_model, state_digest, train
from archlab.train.metrics import ConfusionMatrix, iou_per_class, mean_iou

__all__ = ["ConfusionMatrix", "TrainConfig", "evaluate", "iou_per_class", "mean_iou", "miou_fields", "resolve_model",
           "state_digest", "train"]
