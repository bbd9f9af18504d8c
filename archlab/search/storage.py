"""Where a search's study lives, how dead workers are noticed, and how workers take turns.

Storage URLs (``--storage``):

================================= ===============================================================
``None`` (default)                ``reports/NAME/study.db`` (SQLite, Optuna's RDBStorage); once a
                                  ``--workers K>1`` run made ``reports/NAME/study.journal``, that
                                  journal (which then holds the study) is the default instead
``sqlite:///PATH``, ``PATH.db``   an SQLite file: one process at a time is what SQLite does well
``journal:PATH``, ``PATH.journal`` an Optuna journal file (JournalFileBackend): several processes
``PATH.log``                      on one machine
``postgresql://USER@HOST/DB``     PostgreSQL through RDBStorage: workers on several machines
``mysql://...`` (other SQLAlchemy) RDBStorage as well
================================= ===============================================================

Killed workers: every running trial sends a heartbeat (RDBStorage's own, ``heartbeat_interval`` /
``grace_period``; for journal files :class:`HeartbeatJournalStorage` adds the same protocol, which
Optuna 5.0's JournalStorage lacks). A trial whose heartbeat is older than the grace period is set
to FAIL and re-queued with the same parameters by Optuna's
:class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` (the 5.0 name of
RetryFailedTrialCallback; the retry's system attribute ``failed_trial`` names the dead trial).

Taking turns: :func:`study_lock` serialises "count the trials, then create one" across workers,
so a target of N trials is met exactly: an ``fcntl`` lock file beside an SQLite or journal file,
a PostgreSQL advisory lock (``pg_advisory_lock``) for PostgreSQL. Other databases get no lock
(the count may then overshoot by up to the number of workers less one; said at start).
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from archlab.errors import ArchlabError
from archlab.search import optuna_compat as compat

KINDS = ("sqlite", "journal", "postgresql", "rdb")
URL_FORMS = ("sqlite:///PATH (or PATH.db)", "journal:PATH (or PATH.journal, PATH.log)",
             "postgresql://USER:PASSWORD@HOST/DB", "mysql://... (any SQLAlchemy URL Optuna's RDBStorage takes)")
HEARTBEAT_KEY = "archlab:heartbeat:"


class StorageError(ArchlabError):
    """A storage URL that cannot be used; the message names it and the forms that are valid."""


@dataclass(frozen=True)
class StorageChoice:
    """A resolved storage: ``kind`` (one of :data:`KINDS`), the URL Optuna gets (RDB) or the journal
    path, and the local file whose lock serialises workers (None for server databases)."""

    kind: str
    url: str
    path: Path | None = None
    note: str = ""

    @property
    def lock_path(self) -> Path | None:
        """The lock file beside a local storage file (None for server databases)."""
        return self.path.with_name(self.path.name + ".archlab-lock") if self.path is not None else None

    def describe(self) -> str:
        """The kind and the file, or the URL without its password, for messages."""
        return f"{self.kind} {self.path}" if self.path is not None else f"{self.kind} {_redact(self.url)}"


def _redact(url: str) -> str:
    """A URL without its password, for messages."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        creds, _, host = tail.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{head}://{user}:***@{host}" if ":" in creds else url
    return url


def default_paths(out: Path) -> tuple[Path, Path]:
    """The default SQLite file and the journal file that replaces it for several workers."""
    return out / "study.db", out / "study.journal"


def resolve_storage(url: str | None, out: Path, workers: int = 1) -> StorageChoice:
    """The storage for ``--storage URL`` (None: the default under ``out``, see the module docs).

    Raises StorageError naming the URL and the valid forms. With ``workers > 1`` and the default,
    the journal file is chosen (copying the SQLite file's study into it once, see :func:`open_study`).
    """
    out = Path(out)
    if url is None:
        db, journal = default_paths(out)
        if journal.exists() or workers > 1:
            note = ("several workers share a journal file (SQLite is fragile with several writing processes); "
                    f"from now on {journal} holds the study") if not journal.exists() else ""
            return StorageChoice("journal", str(journal), journal, note)
        return StorageChoice("sqlite", f"sqlite:///{db}", db)
    if not isinstance(url, str) or not url.strip():
        raise StorageError(f"storage URL {url!r} is empty; valid forms: {'; '.join(URL_FORMS)}")
    url = url.strip()
    if url.startswith("journal:"):
        path = url[len("journal:"):]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise StorageError(f"storage URL {url!r} names no file; valid forms: {'; '.join(URL_FORMS)}")
        return StorageChoice("journal", path, Path(path))
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.name or str(path) == ":memory:":
            raise StorageError(f"storage URL {url!r}: an in-memory or nameless SQLite database cannot be shared "
                               f"or resumed; valid forms: {'; '.join(URL_FORMS)}")
        return StorageChoice("sqlite", url, path)
    if "://" not in url:
        if url.endswith((".journal", ".log")):
            return StorageChoice("journal", url, Path(url))
        if url.endswith((".db", ".sqlite", ".sqlite3")):
            return StorageChoice("sqlite", f"sqlite:///{url}", Path(url))
        raise StorageError(f"unknown storage {url!r}: not a URL and not a file ending in .db, .sqlite, .journal or "
                           f".log; valid forms: {'; '.join(URL_FORMS)}")
    scheme = url.split("://", 1)[0].lower()
    if scheme.startswith(("postgresql", "postgres")):
        if scheme.startswith("postgres") and not scheme.startswith("postgresql"):
            url = "postgresql" + url[len(scheme.split("+")[0]):]      # SQLAlchemy only knows 'postgresql'
        if "+" not in scheme:
            url = _postgres_driver(url)
        return StorageChoice("postgresql", url)
    if scheme.startswith(("mysql", "mariadb", "oracle", "mssql")):
        return StorageChoice("rdb", url)
    raise StorageError(f"unknown storage URL scheme {scheme!r} in {_redact(url)!r}; valid forms: "
                       f"{'; '.join(URL_FORMS)}")


def _postgres_driver(url: str) -> str:
    """``postgresql://`` names no driver and SQLAlchemy 2.1 then wants psycopg 3; use psycopg2 when
    only that one is installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


class HeartbeatJournalStorage(JournalStorage, compat.HeartbeatStorage):
    """An Optuna journal storage with RDBStorage's heartbeat protocol.

    A heartbeat is the time (``time.time()``) in the trial's system attribute
    ``archlab:heartbeat:<trial_id>`` (the id in the key, so a retried trial, which inherits its
    predecessor's system attributes, does not inherit its heartbeat either). A RUNNING trial is
    stale when its last heartbeat, or its start when it has none, is older than ``grace_period``
    seconds. Journal files are one machine's, so one clock serves.
    """

    def __init__(self, backend, *, heartbeat_interval: int, grace_period: int | None = None,
                 heartbeat_stale_trial_callback=None):
        super().__init__(backend)
        if heartbeat_interval <= 0 or (grace_period is not None and grace_period <= 0):
            raise ValueError("heartbeat_interval and grace_period must be positive")
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period if grace_period is not None else 2 * heartbeat_interval
        self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        """Beat now for the trial with storage id ``trial_id``."""
        self.set_trial_system_attr(trial_id, f"{HEARTBEAT_KEY}{trial_id}", time.time())

    def stale_trial_ids(self, study_id: int) -> list[int]:
        """Ids of the study's RUNNING trials whose last heartbeat (or start) is older than the grace period."""
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(f"{HEARTBEAT_KEY}{compat.trial_id(trial)}")
            started = trial.datetime_start.timestamp() if trial.datetime_start else now
            if now - max(beat or 0.0, started) > self.grace_period:
                stale.append(compat.trial_id(trial))
        return stale

    def get_heartbeat_interval(self) -> int | None:
        """Seconds between a running trial's heartbeats."""
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self):
        """What fail_stale_trials() calls for each trial it failed (a retry callback, or None)."""
        return self.heartbeat_stale_trial_callback


class Heartbeat:
    """A thread that records a running trial's heartbeat every ``interval`` seconds (``with Heartbeat(...):``
    around a search's objective or a study's job)."""

    def __init__(self, storage, trial_id: int, interval: float):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{trial_id}")

    def _run(self):
        while not self.stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 - a missed beat is retried; the trial must go on
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@contextlib.contextmanager
def _held(lock):
    """An Optuna journal file lock (``acquire``/``release``) as a context manager."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def repair_journal(path: Path) -> int:
    """Drop an incomplete last record of a journal file (a process killed in the middle of writing
    it), so that the next record does not fuse with it and make the file unreadable. Records are
    one JSON object per line: everything after the last newline is the incomplete one. Returns the
    number of bytes dropped (0 for an intact file). Done under a lock of its own (PATH.repair.lock) and
    under the lock Optuna's writers append under (PATH.lock), so a record another live process is
    writing at this moment (a worker starting, or ``--status``, beside running workers) is never taken
    for an incomplete one; a PATH.lock left by a killed process is broken by Optuna after its 30 s grace period."""
    from archlab.files import file_lock

    if not path.is_file() or path.stat().st_size == 0:
        return 0
    from optuna.storages.journal import JournalFileSymlinkLock

    writers = JournalFileSymlinkLock(str(path))     # the lock Optuna's writers append under
    with file_lock(path.with_name(path.name + ".repair")), _held(writers), open(path, "rb+") as handle:
        size = handle.seek(0, 2)
        tail = b""
        position = size
        while position > 0 and b"\n" not in tail:
            step = min(4096, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
        keep = position + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        if keep == size:
            return 0
        handle.truncate(keep)
    print(f"note: {path}: dropped an incomplete last record of {size - keep} bytes (a process was killed while "
          f"writing it); the trials before it are kept", file=sys.stderr)
    return size - keep


def open_storage(choice: StorageChoice, *, heartbeat_interval: int = 20, grace_period: int = 60,
                 max_retry: int | None = 2):
    """The Optuna storage for ``choice``, with heartbeats and retries of stale trials.

    Raises StorageError (one line naming the storage) when it cannot be opened.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
            if choice.kind == "journal":
                choice.path.parent.mkdir(parents=True, exist_ok=True)
                repair_journal(choice.path)
                return HeartbeatJournalStorage(JournalFileBackend(str(choice.path)),
                                               heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                                               heartbeat_stale_trial_callback=retry)
            engine_kwargs = {}
            if choice.kind == "sqlite":
                choice.path.parent.mkdir(parents=True, exist_ok=True)
                engine_kwargs = {"connect_args": {"timeout": 60}}     # wait for another writer, do not fail
            for attempt in range(5):
                try:
                    return RDBStorage(choice.url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                                      grace_period=grace_period, heartbeat_stale_trial_callback=retry)
                except Exception as exc:  # noqa: BLE001 - see below
                    # workers meeting an empty database race to create Optuna's tables: the loser tries again
                    import sqlalchemy.exc

                    if attempt == 4 or not isinstance(exc, (sqlalchemy.exc.IntegrityError,
                                                            sqlalchemy.exc.ProgrammingError)):
                        raise
                    time.sleep(0.5 + attempt)
    except ImportError as exc:
        raise StorageError(f"storage {choice.describe()}: its database driver is not installed ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's and the driver's many errors: one line naming the storage
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open storage {choice.describe()}: {type(exc).__name__}: {first}") from None


def copy_default_sqlite(choice: StorageChoice, out: Path, study_name: str) -> bool:
    """When the default moves from ``study.db`` to ``study.journal``, copy the study over once
    (optuna.copy_study); returns whether it copied."""
    db, journal = default_paths(Path(out))
    if choice.path != journal or journal.exists() or not db.exists():
        return False
    source = f"sqlite:///{db}"
    names = [s.study_name for s in optuna.get_all_study_summaries(source)]
    if study_name not in names:
        return False
    target = JournalStorage(JournalFileBackend(str(journal)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.copy_study(from_study_name=study_name, from_storage=source, to_storage=target)
    return True


@contextlib.contextmanager
def study_lock(choice: StorageChoice, storage, study_name: str):
    """Mutual exclusion between the workers of one study, wherever they run (see the module docs)."""
    if choice.lock_path is not None:
        import fcntl

        choice.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(choice.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if choice.kind == "postgresql":
        import sqlalchemy

        key = int.from_bytes(hashlib.sha256(f"archlab.search:{study_name}".encode()).digest()[:8], "big",
                             signed=True)
        with storage.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    yield


def give_back(study, number: int, max_retry: int | None) -> None:
    """Ctrl-C during trial ``number`` (a search's trial or a study's job): fail it and queue its retry
    now, instead of waiting for its heartbeat to go stale."""
    try:
        study.tell(number, state=TrialState.FAIL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
            RetryHeartbeatStaleTrialCallback(max_retry=max_retry)(study, frozen)
    except Exception:  # noqa: BLE001 - the heartbeat catches what this misses
        pass


def exact_counts(choice: StorageChoice) -> bool:
    """Whether :func:`study_lock` makes the trial count exact for this storage."""
    return choice.lock_path is not None or choice.kind == "postgresql"


def retried_numbers(trials) -> set[int]:
    """Numbers of the trials that were re-queued after going stale (a later trial's retry history names them)."""
    out = set()
    for t in trials:
        out.update(compat.retry_history(t))
    return out


def counted_trials(trials) -> list:
    """The trials that count toward a target: all but stale trials that a retry replaced."""
    retried = retried_numbers(trials)
    return [t for t in trials if not (t.state == TrialState.FAIL and t.number in retried)]


def utcnow() -> str:
    """The UTC time now, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
