"""A process-wide memory of raw samples, so that trainings in one process share rendered scenes.

A study trains every variant with every seed on the same scenes (common random numbers): without
this memory each training renders them again, and rendering a synthstreets scene costs more than
augmenting it. A dataset opts in by returning a hashable :meth:`SegmentationDataset.memo_key`
(everything its samples depend on); samples are kept, least recently used first out, up to
``ARCHLAB_SAMPLE_MEMORY_MB`` MiB (default 2048; 0 turns the memory off). Samples are returned as
they were loaded (read-only arrays): results never depend on whether a sample came from memory.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

from archlab.data.base import Sample, SegmentationDataset
from archlab.errors import DataError

ENV_LIMIT = "ARCHLAB_SAMPLE_MEMORY_MB"
DEFAULT_LIMIT_MB = 2048


def _limit_bytes() -> int:
    text = os.environ.get(ENV_LIMIT, str(DEFAULT_LIMIT_MB))
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise DataError(f"{ENV_LIMIT}={text!r}; expected a size in MiB, 0 or more (0 turns the sample memory off)")
    return int(value * 2 ** 20)


class SampleMemory:
    """Least-recently-used samples of memoizable datasets, bounded in bytes; safe across threads."""

    def __init__(self, limit_bytes: int | None = None):
        self.limit_bytes = _limit_bytes() if limit_bytes is None else int(limit_bytes)
        self._samples: OrderedDict[tuple, Sample] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, dataset: SegmentationDataset, index: int) -> Sample:
        """``dataset[index]``, from memory when this process has loaded it before."""
        source = dataset.memo_key()
        if source is None or self.limit_bytes <= 0:
            return dataset[index]
        key = (source, index)
        with self._lock:
            sample = self._samples.get(key)
            if sample is not None:
                self._samples.move_to_end(key)
                self.hits += 1
                return sample
        sample = dataset[index]
        for array in (sample.image, sample.label):
            array.setflags(write=False)   # shared from now on: nobody may change it in place
        size = sample.image.nbytes + sample.label.nbytes
        with self._lock:
            self.misses += 1
            if key not in self._samples and size <= self.limit_bytes:
                self._samples[key] = sample
                self._bytes += size
                while self._bytes > self.limit_bytes:
                    _, dropped = self._samples.popitem(last=False)
                    self._bytes -= dropped.image.nbytes + dropped.label.nbytes
        return sample

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()
            self._bytes = 0


_shared: SampleMemory | None = None


def shared_memory() -> SampleMemory:
    """The process's one :class:`SampleMemory` (created on first use, sized by ``ARCHLAB_SAMPLE_MEMORY_MB``)."""
    global _shared
    if _shared is None:
        _shared = SampleMemory()
    return _shared
