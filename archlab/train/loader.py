"""The training stream: batch ``step`` is a pure function of (seed, step), whatever the workers.

Sample ``g`` of the stream (g = 0, 1, 2, ...) is scene ``perm_e[g mod N]`` of epoch
``e = g // N``, where ``perm_e`` is a permutation seeded by (seed, e), augmented with a generator
seeded by (seed, g). Process ``rank`` of ``world`` takes samples
``(step * world + rank) * batch ... + batch - 1`` at ``step``. Because nothing depends on
iterator state, a run resumed from a checkpoint at step k sees exactly the batches it would
have seen, and a DataLoader with worker processes yields the same scenes, crops and flips as
one without (pixel values may differ in the last float bit: interpolation rounds differently
with another thread count, so bit-exact reruns need the same ``workers``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from archlab.data.augment import eval_pair, train_pair
from archlab.data.base import SegmentationDataset
from archlab.data.memo import shared_memory


class TrainStream(Dataset):
    """Item ``g`` = the augmented training pair number ``g`` of the stream (see module doc)."""

    def __init__(self, dataset: SegmentationDataset, size, seed: int, scale=(0.75, 1.5), flip=True):
        if len(dataset) == 0:
            raise ValueError(f"{dataset.describe()} is empty")
        self.dataset, self.size, self.seed, self.scale, self.flip = dataset, tuple(size), seed, scale, flip
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self):  # an endless stream; DataLoader only needs it for its own bookkeeping
        return 2 ** 62

    def scene(self, g: int) -> int:
        epoch, position = divmod(g, len(self.dataset))
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, 7, epoch]).permutation(len(self.dataset))}
        return int(self._perms[epoch][position])

    def sample(self, index: int):
        """Raw sample ``index``, shared with other trainings of this process (:mod:`archlab.data.memo`)."""
        return shared_memory().get(self.dataset, index)

    def __getitem__(self, g: int):
        rng = np.random.default_rng([self.seed, 11, g])
        return train_pair(self.sample(self.scene(g)), self.size, rng, scale=self.scale, flip=self.flip)


class StepBatches(Sampler):
    """Yields the stream indices of each step's batch for this process, from ``start`` to ``stop``."""

    def __init__(self, start: int, stop: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start, stop, batch, rank, world

    def __iter__(self):
        for step in range(self.start, self.stop):
            first = (step * self.world + self.rank) * self.batch
            yield list(range(first, first + self.batch))

    def __len__(self):
        return max(0, self.stop - self.start)


def train_loader(stream: TrainStream, start: int, stop: int, batch: int, rank: int = 0, world: int = 1,
                 workers: int = 0, pin_memory: bool = False) -> DataLoader:
    # A private generator: creating the iterator must not draw from the global RNG, which the
    # checkpoint restores for dropout (a resumed run creates its iterator at another point).
    return DataLoader(stream, batch_sampler=StepBatches(start, stop, batch, rank, world), num_workers=workers,
                      pin_memory=pin_memory, worker_init_fn=one_thread_worker if workers else None,
                      generator=torch.Generator().manual_seed(stream.seed))


class EvalSet(Dataset):
    """Images ``rank, rank + world, ...`` of the first ``length`` of a split, resized to ``size``."""

    def __init__(self, dataset: SegmentationDataset, size, length: int | None = None, rank: int = 0, world: int = 1):
        n = len(dataset) if length is None else min(length, len(dataset))
        self.dataset, self.size, self.indices = dataset, tuple(size), list(range(rank, n, world))

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return eval_pair(shared_memory().get(self.dataset, self.indices[i]), self.size)


def eval_loader(dataset, size, batch, length=None, rank=0, world=1, workers=0) -> DataLoader:
    return DataLoader(EvalSet(dataset, size, length, rank, world), batch_size=batch, shuffle=False,
                      num_workers=workers)


def one_thread_worker(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's hook signature
    """Data workers resize and generate; one torch thread each leaves the cores to the model."""
    torch.set_num_threads(1)
