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
import importlib.util
from pathlib import Path
from archlab.hashing import digest

#: Modules and packages whose source can change a trained result (found wherever archlab is
#: installed: a repository checkout, an editable install or a wheel).
TRAINING_SOURCES = ("archlab.blocks", "archlab.train", "archlab.data", "archlab.zoo", "archlab.graph", "archlab.spec",
                    "archlab.transforms", "archlab.registry")
#: The data generators and loaders alone: the ``data_version`` of a record.
DATA_SOURCES = ("archlab.data",)


def source_digest(modules=TRAINING_SOURCES) -> str:
    """SHA-256 (16 hex digits) of every ``*.py`` file of ``modules``, by dotted name and content.

    Files are named by module (``archlab.blocks.conv``), not by path, so the digest is the same
    in a checkout and in an installed wheel.
    """
    return _cached_digest(tuple(modules))


def _module_files(name: str) -> list[tuple[str, Path]]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"training source {name!r} is not importable")
    if not spec.submodule_search_locations:
        return [(name, Path(spec.origin))]
    files = []
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            files.append((".".join((name, *parts)), path))
    return files


@functools.lru_cache(maxsize=None)
def _cached_digest(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for dotted, path in sorted(f for name in modules for f in _module_files(name)):
        digest.update(dotted.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def determinants(threads: int) -> dict:
    """The facts besides spec and settings that a trained result depends on, as record fields."""
    import numpy
    import torch

    return {"train_threads": int(threads), "code_digest": source_digest(), "data_version": source_digest(DATA_SOURCES),
            "torch_version": torch.__version__, "numpy_version": numpy.__version__}


def determinants_hash(threads: int) -> str:
    return digest(determinants(threads))


def training_threads(threads: int | None) -> int:
    """The CPU thread count a training will run with: ``threads``, or torch's current setting."""
    import torch

    return int(threads) if threads else torch.get_num_threads()
