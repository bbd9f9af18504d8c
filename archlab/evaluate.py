"""``python -m archlab.evaluate CHECKPOINT``: mIoU of a trained checkpoint, and a qualitative figure.

    python -m archlab.evaluate runs/fast_scnn_synthstreets_128x256_600steps_s0/checkpoint.pt
    python -m archlab.evaluate RUN_DIR --split test --figure reports/fast_scnn_test.png --show 4
    python -m archlab.evaluate RUN_DIR --data-root ~/data/cityscapes --size 1024x2048 --device cuda

The checkpoint carries the spec and the training settings, so the model and the dataset are
rebuilt from it; ``--data-root``, ``--split`` and ``--size`` override what it says.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from archlab import cli


def load_model(checkpoint: dict):
    """The trained module of a checkpoint, rebuilt from its spec."""
    from archlab.graph import build
    from archlab.spec import Spec

    if not checkpoint.get("spec_json"):
        raise ValueError("this checkpoint was trained from a bare nn.Module and holds no spec to rebuild it from")
    model = build(Spec.from_json(checkpoint["spec_json"]))
    model.load_state_dict(checkpoint["model"])
    return model.eval()


def evaluate_checkpoint(path, split=None, data_root=None, size=None, length=None, device="cpu", batch=8) -> dict:
    """Re-evaluate a checkpoint; returns the accuracy record (``miou`` as a fraction, per-class IoU)."""
    from archlab.train import checkpoint as ckpt
    from archlab.train.loop import CHECKPOINT_FILE

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    return {**evaluate_state(ckpt.load(path), split, data_root, size, length, device, batch), "checkpoint": str(path)}


def evaluate_state(state: dict, split=None, data_root=None, size=None, length=None, device="cpu", batch=8, *,
                   amp: str = "off", channels_last: bool = False) -> dict:
    """Evaluate a loaded checkpoint ``state`` as the trainer evaluates (``amp`` and ``channels_last`` as
    its run had them); returns the accuracy record, with the module, dataset and size under ``_model``,
    ``_dataset`` and ``_size``."""
    import torch

    from archlab.data import get_dataset
    from archlab.train.config import TrainConfig
    from archlab.train.loop import evaluate, miou_fields

    config = TrainConfig.from_dict(state["config"])
    size = tuple(size or config.size)
    split = split or config.eval_split
    dataset = get_dataset(config.data, split, root=data_root or config.data_root, size=size, seed=config.data_seed)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = load_model(state).to(device, memory_format=layout)
    matrix = evaluate(model, dataset, size, batch=batch, device=device, length=length, amp=amp)
    n = len(dataset) if length is None else min(length, len(dataset))
    return {"model": state["identity"]["model"], "step": state["step"],
            "miou_dataset": config.data, "miou_split": split, "miou_size": f"{size[0]}x{size[1]}",
            "miou_images": n, **miou_fields(matrix, dataset), "_model": model, "_dataset": dataset, "_size": size}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m archlab.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="OUT/checkpoint.pt of a training run, or the run directory")
    p.add_argument("--split", choices=("train", "val", "test"), help="split to evaluate (default: the run's)")
    p.add_argument("--data-root", help="dataset root (default: the run's)")
    cli.add_size(p, help="evaluation HxW (default: the run's working size)")
    p.add_argument("--length", type=cli.positive_int, help="only the first N images of the split")
    cli.add_device(p, default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--figure", type=cli.writable_file("--figure"), help="write the qualitative figure (input, ground truth, prediction) here")
    p.add_argument("--show", type=cli.positive_int, default=4, help="images in the figure (default 4)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from archlab.errors import DataError, SpecError

    try:
        result = evaluate_checkpoint(args.checkpoint, args.split, args.data_root, args.size, args.length, args.device)
    except (FileNotFoundError, ValueError, DataError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model, dataset, size = result.pop("_model"), result.pop("_dataset"), result.pop("_size")
    if args.figure:
        from archlab.report.qualitative import predict, qualitative_figure

        rows = predict(model, dataset, range(min(args.show, len(dataset))), size, args.device)
        qualitative_figure([r["image"] for r in rows], [r["label"] for r in rows],
                           {result["model"]: [r["prediction"] for r in rows]}, dataset.palette, dataset.class_names,
                           args.figure, title=f"{result['model']} on {dataset.name} {result['miou_split']} "
                                              f"({result['miou_size']}), mIoU {100 * result['miou']:.1f}%")
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{result['model']} (step {result['step']}): mIoU {100 * result['miou']:.1f}% on "
              f"{result['miou_dataset']} {result['miou_split']} ({result['miou_images']} images at "
              f"{result['miou_size']})")
        print("  per-class IoU (%): " + ", ".join(
            f"{k[4:]} {100 * v:.1f}" if not math.isnan(v) else f"{k[4:]} n/a"
            for k, v in result.items() if k.startswith("iou_")))
        if args.figure:
            print(f"  figure: {args.figure}")
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
