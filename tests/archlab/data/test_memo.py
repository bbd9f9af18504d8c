"""The process-wide sample memory: shared across datasets with one key, bounded, never changes a sample."""
import numpy as np
import pytest

from archlab.data import get_dataset
from archlab.data.memo import SampleMemory, _limit_bytes
from archlab.errors import DataError


def test_a_second_dataset_with_the_same_key_reads_from_memory_and_gets_the_same_arrays():
    memory = SampleMemory(limit_bytes=64 * 2 ** 20)
    a = get_dataset("synthstreets", "train", size=(32, 64), length=4)
    b = get_dataset("synthstreets", "train", size=(32, 64), length=8)       # another length, the same scenes
    first = memory.get(a, 2)
    again = memory.get(b, 2)
    assert again is first and (memory.hits, memory.misses) == (1, 1)
    assert np.array_equal(first.image, get_dataset("synthstreets", "train", size=(32, 64))[2].image)
    with pytest.raises(ValueError, match="read-only"):
        first.image[0, 0, 0] = 1


def test_other_sizes_or_seeds_are_other_samples():
    memory = SampleMemory(limit_bytes=64 * 2 ** 20)
    memory.get(get_dataset("synthstreets", "train", size=(32, 64)), 0)
    memory.get(get_dataset("synthstreets", "train", size=(64, 128)), 0)
    memory.get(get_dataset("synthstreets", "train", size=(32, 64), seed=1), 0)
    assert memory.misses == 3 and len(memory) == 3


def test_the_memory_stays_within_its_bound_dropping_the_least_recently_used():
    one = 32 * 64 * 4   # image (3 bytes) + label (1 byte) per pixel
    memory = SampleMemory(limit_bytes=2 * one)
    data = get_dataset("synthstreets", "train", size=(32, 64))
    for i in (0, 1, 0, 2):      # 0 is used again, so 1 is the one dropped for 2
        memory.get(data, i)
    assert memory.bytes <= 2 * one and len(memory) == 2
    memory.get(data, 0)
    assert memory.hits == 2     # 0 stayed
    memory.get(data, 1)
    assert memory.misses == 4   # 1 was dropped


def test_a_bad_limit_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("ARCHLAB_SAMPLE_MEMORY_MB", "lots")
    with pytest.raises(DataError, match="ARCHLAB_SAMPLE_MEMORY_MB='lots'; expected a size in MiB"):
        _limit_bytes()
    monkeypatch.setenv("ARCHLAB_SAMPLE_MEMORY_MB", "0")
    assert SampleMemory().get(get_dataset("synthstreets", "val", size=(32, 64)), 0) is not None
