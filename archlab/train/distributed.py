"""Multi-process training through ``torchrun``: DistributedDataParallel, gloo on CPU, NCCL on CUDA.

``torchrun --nproc_per_node K -m archlab.train MODEL ...`` (or ``--nnodes`` with a rendezvous
endpoint for several machines) sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`setup`
reads them and joins the process group. Each process trains on its own slice of every step's
samples (see :mod:`archlab.train.loader`), gradients are averaged by DDP, BatchNorm buffers
are broadcast from rank 0, and evaluation sums the ranks' confusion matrices.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> DistInfo:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank)


def all_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.active:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(obj, info: DistInfo) -> list:
    if not info.active:
        return [obj]
    out = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP does this before every forward; after the last step each rank has updated its running
    statistics with its own batch, so they are synchronised once more before evaluation and saving.
    """
    if info.active:
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def teardown(info: DistInfo) -> None:
    if info.active and dist.is_initialized():
        dist.destroy_process_group()
