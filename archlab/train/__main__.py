"""``python -m archlab.train``: train a zoo model (or a spec file) and report its mIoU.

    python -m archlab.train fast_scnn                                  # synthstreets 128x256, CPU budget
    python -m archlab.train fassd_net --steps 300 --size 128x256 --out runs/fassd
    python -m archlab.train fast_scnn --data cityscapes --data-root ~/data/cityscapes --size 512x1024 \\
        --steps 60000 --batch 12 --lr 0.045 --device cuda --ohem
    torchrun --nproc_per_node 2 -m archlab.train fast_scnn --steps 1000     # DDP (gloo on CPU, NCCL on CUDA)

A run writes OUT/checkpoint.pt (every --checkpoint-every steps, and on Ctrl-C) and, when it
finishes, OUT/record.json; running the same command again resumes from the checkpoint, or
returns the finished record. Exit status 1 when training diverged.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from archlab.train.config import AMP_MODES, TrainConfig
from archlab import cli

_DEFAULTS = TrainConfig()


def parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH such as 0.5,2.0") from None
    return low, high


def build_parser() -> argparse.ArgumentParser:
    d = _DEFAULTS
    p = argparse.ArgumentParser(prog="python -m archlab.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo model name (python -m archlab.zoo lists them; floors: color_mlp, "
                                 "small_rf_cnn) or a spec .json file")
    p.add_argument("--data", default=d.data, help="synthstreets (generated, default), cityscapes or camvid")
    p.add_argument("--data-root", help="root of the Cityscapes or CamVid tree")
    cli.add_size(p, default=d.size, help="working resolution and crop HxW (default 128x256)")
    p.add_argument("--steps", type=cli.positive_int, default=d.steps, help=f"SGD steps (default {d.steps})")
    p.add_argument("--batch", type=cli.positive_int, default=d.batch, help=f"images per step per process (default {d.batch})")
    p.add_argument("--lr", type=cli.positive_float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-steps", type=cli.non_negative_int, default=d.warmup_steps)
    p.add_argument("--scale", type=parse_range, default=d.scale, help="random scale range LOW,HIGH (default 0.75,1.5)")
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--ohem", action="store_true", help="online hard example mining cross-entropy")
    p.add_argument("--seed", type=cli.non_negative_int, default=d.seed, help="seed of weights, data order and augmentation")
    p.add_argument("--data-seed", type=cli.non_negative_int, default=d.data_seed, help="synthstreets scene seed")
    p.add_argument("--eval-split", default=d.eval_split, choices=("train", "val", "test"))
    p.add_argument("--eval-length", type=cli.positive_int, help="evaluate on the first N images of the split only")
    cli.add_device(p, default=d.device, help="cpu, cuda or cuda:N")
    p.add_argument("--amp", default=d.amp, choices=AMP_MODES, help="mixed precision (auto: fp16 on CUDA)")
    p.add_argument("--channels-last", action="store_true",
                   help="train in NHWC layout (faster on CPU for most zoo models; crashes torch 2.13.0 on DFANet)")
    p.add_argument("--data-cache", type=cli.writable_dir("--data-cache"), help="keep rendered synthstreets scenes here (on-disk cache)")
    p.add_argument("--workers", type=cli.non_negative_int, default=0, help="data loader processes (default 0: in-process)")
    cli.add_threads(p, help="CPU threads for torch")
    p.add_argument("--checkpoint-every", type=cli.positive_int, default=100, help="steps between checkpoints (default 100)")
    cli.add_out_dir(p, help="run directory (default runs/MODEL_DATA_HxW_STEPS_sSEED)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint or record in --out")
    p.add_argument("--width", type=cli.positive_float, help="width knob")
    p.add_argument("--depth", type=cli.positive_float, help="depth knob")
    p.add_argument("--alpha", type=cli.positive_float, help="DAPF alpha knob")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    return p


def _model(args, num_classes: int):
    from archlab.spec import Spec
    from archlab.zoo import get_spec

    if args.model.endswith(".json"):
        path = Path(args.model)
        if not path.is_file():
            raise SystemExit(f"spec file {args.model!r} does not exist")
        return Spec.from_json(path.read_text())
    return get_spec(args.model, num_classes=num_classes, width=args.width, depth=args.depth, alpha=args.alpha)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from archlab.data import get_dataset
    from archlab.errors import DataError, SpecError, TrainingError
    from archlab.train.loop import train

    try:
        config = TrainConfig(data=args.data, data_root=args.data_root, size=args.size, steps=args.steps,
                             batch=args.batch, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                             warmup_steps=args.warmup_steps, scale=args.scale, flip=not args.no_flip, ohem=args.ohem,
                             seed=args.seed, data_seed=args.data_seed, eval_split=args.eval_split,
                             eval_length=args.eval_length, device=args.device, amp=args.amp,
                             channels_last=args.channels_last)
        num_classes = get_dataset(config.data, "train", root=config.data_root, size=config.size).num_classes
        spec = _model(args, num_classes)
        out = args.out or Path("runs") / f"{spec.name}_{config.data}_{config.size[0]}x{config.size[1]}_" \
                                         f"{config.steps}steps_s{config.seed}"
        record = train(spec, config, out=out, resume=not args.fresh, workers=args.workers, threads=args.threads,
                       checkpoint_every=args.checkpoint_every, data_cache=args.data_cache)
    except (ValueError, DataError, SpecError, TrainingError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the checkpoint holds every finished step; run the same command to resume",
              file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:
        return 0 if record["status"] == "ok" else 1
    if args.json:
        print(json.dumps({k: v for k, v in record.items() if k not in ("confusion", "spec_json")}, indent=1,
                         default=str))
    elif record["status"] != "ok":
        print(f"{record['model']}: training failed: {record['failure']}", file=sys.stderr)
    else:
        ious = {k[4:]: v for k, v in record.items() if k.startswith("iou_")}
        print(f"{record['model']}: mIoU {100 * record['miou']:.1f}% on {record['miou_dataset']} "
              f"{record['miou_split']} ({record['miou_images']} images at {record['miou_size']}), "
              f"{record['train_steps']} steps x {record['train_batch']} in {record['train_time_s']:.0f} s "
              f"({record['train_images_per_s']:.1f} img/s on {record['device_name']}); run in {out}")
        print("  per-class IoU (%): " + ", ".join(
            f"{k} {100 * v:.1f}" if not math.isnan(v) else f"{k} n/a" for k, v in ious.items()))
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
