"""What decides a training run's result besides its spec and :class:`TrainConfig`.

Two runs with the same spec and settings agree bit for bit only on the same code, the same
libraries and the same number of CPU threads (reductions split differently across threads and
round differently). :func:`determinants` lists those facts; every training record carries them and
every cache of trained results (a study's ``seeds.csv``, a run directory) is keyed on them, so a
change to any of them trains again instead of reusing a number it no longer reproduces.

The code revision is a digest of the sources that can change a trained result (the blocks, the
graph and spec machinery, the zoo, the data generators and the trainer), not the git commit:
committing a report or editing a plot must not invalidate trained results.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

#: Sources (relative to the repository root) whose content can change a trained result.
TRAINING_SOURCES = ("blocks", "archlab/train", "archlab/data", "archlab/zoo", "archlab/graph.py", "archlab/spec.py",
                    "archlab/transforms.py", "archlab/registry.py")
#: The data generators and loaders alone: the ``data_version`` of a record.
DATA_SOURCES = ("archlab/data",)


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


def source_digest(paths=TRAINING_SOURCES) -> str:
    """SHA-256 (16 hex digits) of every ``*.py`` file under ``paths``, by relative path and content."""
    return _cached_digest(tuple(paths))


@functools.lru_cache(maxsize=None)
def _cached_digest(paths: tuple[str, ...]) -> str:
    root = _root()
    digest = hashlib.sha256()
    files = []
    for rel in paths:
        path = root / rel
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def determinants(threads: int) -> dict:
    """The facts besides spec and settings that a trained result depends on, as record fields."""
    import numpy
    import torch

    return {"train_threads": int(threads), "code_digest": source_digest(), "data_version": source_digest(DATA_SOURCES),
            "torch_version": torch.__version__, "numpy_version": numpy.__version__}


def determinants_hash(threads: int) -> str:
    return hashlib.sha256(json.dumps(determinants(threads), sort_keys=True).encode()).hexdigest()[:16]


def training_threads(threads: int | None) -> int:
    """The CPU thread count a training will run with: ``threads``, or torch's current setting."""
    import torch

    return int(threads) if threads else torch.get_num_threads()
