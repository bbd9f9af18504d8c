"""Files that several processes may write: atomic replacement, inter-process locks, and CSV
tables read with errors that name the file.

One home for every report, cache and record archlab writes:

- :func:`atomic_write` writes through a temporary file with a unique name (pid and a counter),
  then ``os.replace``: a reader sees the old file or the new one, never half of one, and two
  writers never share a temporary file.
- :func:`file_lock` is an exclusive ``flock`` on ``PATH.lock`` for read-modify-write cycles
  across processes (a CSV that two runs append to, a study two commands run at once).
- :func:`read_csv` turns pandas' parse errors on a truncated or corrupt file into
  :class:`CorruptFileError`, which names the file and how to get past it.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path

from archlab.errors import ArchlabError

_counter = itertools.count()


class CorruptFileError(ArchlabError):
    """A cache or report file that cannot be read; the message names it and the way past it."""


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_counter)}.tmp")


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (unique temporary file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_csv(path, frame) -> Path:
    """Write a pandas DataFrame as CSV, atomically (no index column)."""
    return atomic_write(path, frame.to_csv(index=False))


def update_csv(path, change, *, remedy: str = "delete it or rerun with --force", **read_kwargs):
    """Read-modify-write a CSV table safely across processes: under :func:`file_lock`, read the
    current table (None when there is no file yet), call ``change(frame) -> frame``, write the
    result atomically. Two processes appending through this keep every row."""
    path = Path(path)
    with file_lock(path):
        current = read_csv(path, remedy=remedy, **read_kwargs) if path.is_file() else None
        new = change(current)
        atomic_write_csv(path, new)
    return new


def restore_integers(frame):
    """Float columns whose values are all whole numbers (with gaps) back to nullable integers:
    pandas reads an integer column with empty cells as float, so a CSV rewritten from rows read
    back would turn 30 into 30.0."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            present = values.dropna()
            if len(present) and (present == present.round()).all() and present.abs().max() < 2 ** 53 \
                    and values.isna().any():
                out[column] = values.astype("Int64")
    return out


def atomic_save(path, save) -> Path:
    """Call ``save(tmp_path)`` (``torch.save`` and the like), then move the file into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path, *, wait_message=None):
    """Hold an exclusive inter-process lock tied to ``path`` (the file ``PATH.lock``) for the block.

    Blocks until the lock is free; ``wait_message()`` (if given) is called once when another
    process holds it, e.g. to print what is being waited for. Where ``fcntl`` does not exist
    (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    lock_path = Path(path).with_name(Path(path).name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message is not None:
                wait_message()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()} {time.time():.0f}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_csv(path, *, required: tuple[str, ...] = (), remedy: str = "delete it or rerun with --force", **kwargs):
    """``pandas.read_csv`` with errors that name the file: an empty, truncated or corrupt file, or
    one without a ``required`` column, is a :class:`CorruptFileError` saying how to get past it."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(f"{path} cannot be read as a CSV table ({str(exc).splitlines()[0]}): {remedy}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CorruptFileError(f"{path} has no column(s) {missing} (it has {list(frame.columns)[:8]}): {remedy}")
    return frame
