"""The training loop: ``train(model, budget) -> record with miou``, and ``evaluate``.

One function serves the CLI, studies and searches. It trains a zoo name, a spec or a module for
``config.steps`` SGD steps (momentum, poly decay, weight decay, cross-entropy with the ignore
index or OHEM, fp16 autocast on CUDA), checkpoints to ``out`` every ``checkpoint_every`` steps
and on Ctrl-C, resumes from there bit-for-bit, evaluates the confusion-matrix mIoU on
``config.eval_split`` and returns one flat record. A run whose loss stops being finite ends
with ``status = "diverged"``, ``miou`` NaN and the step and learning rate in ``failure``.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archlab.data import get_dataset
from archlab.errors import SpecError, TrainingError
from archlab.profile.record import device_name
from archlab.spec import Spec, parse_ref
from archlab.train import checkpoint as ckpt
from archlab.train import distributed, provenance
from archlab.train.config import TrainConfig
from archlab.train.loader import TrainStream, eval_loader, train_loader
from archlab.train.loss import cross_entropy, ohem_cross_entropy
from archlab.train.metrics import ConfusionMatrix, iou_per_class, mean_iou, pixel_accuracy

RECORD_FILE, CHECKPOINT_FILE = "record.json", "checkpoint.pt"


def resolve_model(model, num_classes: int, size) -> tuple[str, Spec | None, nn.Module]:
    """A zoo name, a :class:`Spec` or an ``nn.Module`` -> (name, spec or None, module), checked against the data.

    A zoo name is built for the dataset's ``num_classes``; a spec must output that many scores.
    Building and the input-size check are the profiler's (:func:`archlab.profile.record.resolve_model`).
    """
    from archlab.graph import infer_shapes
    from archlab.profile.record import resolve_model as build_checked
    from archlab.zoo import get_spec

    if isinstance(model, str):
        model = get_spec(model, num_classes=num_classes)
    if isinstance(model, Spec):
        out_node, out_index = parse_ref(model.output)
        out_channels = infer_shapes(model)[out_node].out_channels[out_index]
        if out_channels != num_classes:
            raise SpecError(f"outputs {out_channels} class scores but the dataset has {num_classes} classes "
                            f"(build the spec with num_classes={num_classes})", spec=model.name)
    module, name, spec = build_checked(model, (1, 3, *size))
    return name, spec, module


def state_digest(module: nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in order: equal digests mean identical weights."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _autocast(device: torch.device, amp: str):
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def _logits(model, images, labels):
    logits = model(images)
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return logits


@torch.inference_mode()
def evaluate(model: nn.Module, dataset, size, *, batch: int = 8, device="cpu", length: int | None = None,
             amp: str = "off", info: distributed.DistInfo = distributed.DistInfo()) -> ConfusionMatrix:
    """Confusion matrix of ``model`` over (the first ``length`` images of) ``dataset`` at ``size``.

    Under DDP every rank evaluates its share and the matrices are summed, so all ranks return the same.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    matrix = ConfusionMatrix(dataset.num_classes, dataset.ignore_index)
    for images, labels in eval_loader(dataset, size, batch, length, info.rank, info.world):
        images, labels = images.to(device), labels.to(device)
        with _autocast(device, amp):
            logits = _logits(model, images, labels)
        matrix.update(labels, logits.argmax(1))
    distributed.all_sum(matrix.matrix, info)
    model.train(was_training)
    return matrix


def miou_fields(matrix: ConfusionMatrix, dataset) -> dict:
    """The record's accuracy columns: ``miou`` (a fraction in [0, 1]) over the evaluated classes, and per class."""
    ious = iou_per_class(matrix.matrix.numpy())
    fields = {"miou": mean_iou(matrix.matrix.numpy(), dataset.eval_classes),
              "pixel_accuracy": pixel_accuracy(matrix.matrix.numpy())}
    for c in dataset.eval_classes:
        fields[f"iou_{dataset.class_names[c].replace(' ', '_')}"] = float(ious[c])
    return fields


def _read_record(out: Path | None):
    if out is None or not (out / RECORD_FILE).is_file():
        return None
    return json.loads((out / RECORD_FILE).read_text())


def _write_json(path: Path, data: dict) -> None:
    from archlab.files import atomic_write

    atomic_write(path, json.dumps(data, indent=1, sort_keys=True, default=str))


class _Progress:
    """A rich progress bar with loss and images/s on the main process; silent elsewhere.

    Where stderr is not a terminal (CI logs, nohup), a plain line is printed every tenth of the run.
    """

    def __init__(self, enabled: bool, description: str, total: int, done: int):
        self.bar, self.description, self.total, self.next_line = None, description, total, done
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            console = Console(stderr=True)
            self.plain = not console.is_terminal
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} img/s"),
                                TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
                                disable=self.plain)
            self.task = self.bar.add_task(description, total=total, completed=done, loss="-", rate="-")

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def update(self, **fields):
        if not self.bar:
            return
        self.bar.update(self.task, **fields)
        done = fields.get("completed", 0)
        if self.plain and done >= self.next_line:
            print(f"{self.description}: step {done}/{self.total}, loss {fields.get('loss')}, "
                  f"{fields.get('rate')} img/s", file=sys.stderr, flush=True)
            self.next_line = done + max(1, self.total // 10)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


def train(model, config: TrainConfig | None = None, *, out=None, resume: bool = True, progress: bool = True,
          workers: int = 0, threads: int | None = None, checkpoint_every: int = 100, on_step=None,
          data_cache=None, **overrides) -> dict:
    """Train ``model`` (zoo name, :class:`Spec` or ``nn.Module``) under ``config`` and return its record.

    ``out`` (a directory) enables checkpoints, exact resumption and ``record.json``; a finished
    run whose record matches the spec and settings is returned without training again.
    ``overrides`` are :class:`TrainConfig` fields (``steps=200, size=(64, 128)``).
    ``on_step(done, total, loss)`` is called after every step (a caller's own progress display).
    ``data_cache``: a directory for synthstreets' on-disk cache of rendered scenes (results do not change).
    """
    config = TrainConfig(**overrides) if config is None else TrainConfig(**{**config.to_dict(), **overrides})
    info = distributed.setup(config.device)
    device = _device(config, info)
    if threads:
        torch.set_num_threads(threads)
    out = Path(out) if out is not None else None

    torch.manual_seed(config.seed)
    cache = {"cache_dir": data_cache} if data_cache and config.data == "synthstreets" else {}
    train_set = get_dataset(config.data, "train", root=config.data_root, size=config.size, seed=config.data_seed,
                            length=config.train_length, **cache)
    eval_set = get_dataset(config.data, config.eval_split, root=config.data_root, size=config.size,
                           seed=config.data_seed, **cache)
    name, spec, module = resolve_model(model, train_set.num_classes, config.size)
    identity = {"model": name, "spec_hash": spec.content_hash() if spec is not None else None,
                "config_hash": config.result_hash(),
                "determinants_hash": provenance.determinants_hash(torch.get_num_threads())}

    finished = _read_record(out) if resume else None
    if finished and all(finished.get(k) == v for k, v in identity.items()):
        return finished

    run = _Run(config, info, device, module, spec, identity, out)
    if out is not None and resume and (out / CHECKPOINT_FILE).is_file():
        run.restore(out / CHECKPOINT_FILE)
    stream = TrainStream(train_set, config.size, config.seed, config.scale, config.flip)
    loader = train_loader(stream, run.start, config.steps, config.batch, info.rank, info.world, workers,
                          pin_memory=device.type == "cuda")
    label = f"train {name} on {config.data} {config.size[0]}x{config.size[1]}"
    with _Progress(progress and info.main, label, config.steps, run.start) as bar:
        failure = run.steps(loader, bar, on_step, checkpoint_every)
    distributed.broadcast_buffers(module, info)
    record = run.record(failure, eval_set)
    if out is not None and info.main:
        run.save_checkpoint(len(run.losses), record=json.dumps(record, default=str))
        _write_json(out / RECORD_FILE, record)
    distributed.barrier(info)
    return record


def _device(config: TrainConfig, info: distributed.DistInfo) -> torch.device:
    device = torch.device(config.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {config.device!r}: CUDA is not available on this machine (use --device cpu)")
        if info.active:
            device = torch.device("cuda", info.local_rank)
    return device


class _Run:
    """One training's state (model, optimiser, AMP scaler, step, clock, losses) and its three phases:
    :meth:`restore` from a checkpoint, :meth:`steps` (the SGD loop), :meth:`record` (evaluation)."""

    def __init__(self, config: TrainConfig, info, device, module: nn.Module, spec, identity: dict, out):
        self.config, self.info, self.device, self.module, self.spec = config, info, device, module, spec
        self.identity, self.out = identity, out
        self.amp = ("fp16" if device.type == "cuda" else "off") if config.amp == "auto" else config.amp
        self.layout = torch.channels_last if config.channels_last else torch.contiguous_format
        module.to(device, memory_format=self.layout)
        self.optimizer = torch.optim.SGD(module.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == "fp16")
        self.start, self.train_time, self.losses = 0, 0.0, []
        self.net = module
        if info.active:
            self.net = nn.parallel.DistributedDataParallel(
                module, device_ids=[device.index] if device.type == "cuda" else None)

    def restore(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``, refusing one of another run, code or thread count."""
        state = ckpt.load(path)
        saved = TrainConfig.from_dict(state["config"])
        saved_identity = state.get("identity", {})
        if saved_identity.get("spec_hash") != self.identity["spec_hash"] or saved != self.config:
            diff = saved.differences(self.config)
            raise TrainingError(f"{path} belongs to another run (model {state['identity']['model']!r}"
                                f", differing settings: {diff or 'the spec'}); use another --out or --fresh")
        if saved_identity.get("determinants_hash") != self.identity["determinants_hash"]:
            raise TrainingError(f"{path} was trained with other code, libraries or thread count "
                                f"(see archlab.train.provenance); resuming would mix them: use another --out or --fresh")
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        ckpt.set_rng_state(state["rng"])
        self.start, self.train_time, self.losses = state["step"], state["train_time_s"], list(state["losses"])

    def save_checkpoint(self, step: int, **extra) -> None:
        if self.out is None or not self.info.main:
            return
        ckpt.save(self.out / CHECKPOINT_FILE, {
            "identity": self.identity, "spec_json": self.spec.to_json() if self.spec is not None else None,
            "config": self.config.to_dict(), "step": step, "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(), "rng": ckpt.rng_state(),
            "train_time_s": self.train_time, "losses": self.losses, **extra})

    def steps(self, loader, bar, on_step, checkpoint_every: int) -> str | None:
        """Run the SGD steps from ``self.start``; returns why the run stopped early (a non-finite loss), or None.

        Ctrl-C saves a checkpoint at the last finished step and propagates."""
        config, info, device = self.config, self.info, self.device
        criterion = ((lambda lo, t: ohem_cross_entropy(lo, t, config.ohem_thresh, config.ohem_min_kept))
                     if config.ohem else cross_entropy)
        self.recent = deque(self.losses[-20:], maxlen=20)
        resumed_time = self.train_time
        self.net.train()
        try:
            tick = time.perf_counter()
            for step, (images, labels) in enumerate(loader, start=self.start):
                lr = config.lr_at(step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                images = images.to(device, non_blocking=True, memory_format=self.layout)
                labels = labels.to(device, non_blocking=True)
                with _autocast(device, self.amp):
                    loss = criterion(_logits(self.net, images, labels), labels)
                check = distributed.all_sum(loss.detach().float().reshape(1).clone(), info) / info.world
                if not torch.isfinite(check).all():
                    return (f"loss became {check.item()} at step {step + 1} of {config.steps} "
                            f"(learning rate {lr:.4g}); try a lower learning rate (--lr) or more warm-up steps")
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                value = check.item()
                self.losses.append(value)
                self.recent.append(value)
                now = time.perf_counter()
                self.train_time += now - tick
                tick = now
                done = step + 1
                rate = (done - self.start) * config.batch * info.world / max(1e-9, self.train_time - resumed_time)
                bar.update(completed=done, loss=f"{np.mean(self.recent):.3f}", rate=f"{rate:.1f}")
                if on_step is not None:
                    on_step(done, config.steps, float(np.mean(self.recent)))
                if checkpoint_every and done % checkpoint_every == 0 and done < config.steps:
                    self.save_checkpoint(done)
        except KeyboardInterrupt:
            self.save_checkpoint(len(self.losses))
            raise
        return None

    def record(self, failure: str | None, eval_set) -> dict:
        """The run's flat record: settings, provenance, training figures and, unless it failed, the mIoU."""
        config, info = self.config, self.info
        record = _base_record(self.identity, self.spec, config, info, self.device, self.amp)
        record["params"] = sum(p.numel() for p in self.module.parameters())
        steps = len(self.losses)
        record.update(train_steps=steps, train_time_s=self.train_time,
                      train_images_per_s=(steps * config.batch * info.world / self.train_time if self.train_time
                                          else float("nan")),
                      final_loss=float(np.mean(self.recent)) if self.recent else float("nan"))
        if failure is not None:
            record.update(status="diverged", failure=failure, miou=float("nan"))
        else:
            tick = time.perf_counter()
            matrix = evaluate(self.module, eval_set, config.size, batch=config.eval_batch, device=self.device,
                              length=config.eval_length, amp=self.amp, info=info)
            evaluated = len(eval_set) if config.eval_length is None else min(config.eval_length, len(eval_set))
            record.update(status="ok", failure="", **miou_fields(matrix, eval_set), miou_images=evaluated,
                          eval_time_s=time.perf_counter() - tick, confusion=matrix.matrix.tolist())
        digest = state_digest(self.module)
        record["weights_sha256"] = digest
        if info.active:
            digests = distributed.gather_objects(digest, info)
            record["ranks_agree"] = len(set(digests)) == 1
            if self.out is not None:
                self.out.mkdir(parents=True, exist_ok=True)
                _write_json(self.out / f"rank{info.rank}.json",
                            {"rank": info.rank, "weights_sha256": digest, "miou": record.get("miou"),
                             "ranks_agree": record["ranks_agree"]})
        return record


def _base_record(identity, spec, config: TrainConfig, info, device, amp) -> dict:
    import archlab

    return {**identity, "spec_json": spec.to_json() if spec is not None else None,
            "miou_dataset": config.data, "miou_split": config.eval_split,
            "miou_size": f"{config.size[0]}x{config.size[1]}", "train_batch": config.batch,
            "train_size": f"{config.size[0]}x{config.size[1]}", "train_lr": config.lr, "train_seed": config.seed,
            "train_data_seed": config.data_seed, "train_ohem": config.ohem, "train_config": config.to_dict(),
            "device": device.type, "device_name": device_name(str(device)), "world_size": info.world, "amp": amp,
            "threads": torch.get_num_threads(), **provenance.determinants(torch.get_num_threads()),
            "archlab_version": archlab.__version__, "date": _dt.datetime.now().isoformat(timespec="seconds")}
