import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from archlab.search import optuna_compat as compat
from archlab.search.storage import (HeartbeatJournalStorage, StorageError, copy_default_sqlite, counted_trials,
                                    open_storage, resolve_storage, study_lock)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_default_is_sqlite_under_out_and_a_journal_for_several_workers(tmp_path):
    choice = resolve_storage(None, tmp_path)
    assert (choice.kind, choice.path, choice.url) == ("sqlite", tmp_path / "study.db", f"sqlite:///{tmp_path}/study.db")
    several = resolve_storage(None, tmp_path, workers=2)
    assert (several.kind, several.path) == ("journal", tmp_path / "study.journal")
    assert "SQLite" in several.note
    (tmp_path / "study.journal").touch()           # once made, the journal is the default for one worker too
    assert resolve_storage(None, tmp_path).kind == "journal"


@pytest.mark.parametrize("url, kind, path", [
    ("journal:/x/s.journal", "journal", "/x/s.journal"),
    ("journal:rel/s.bin", "journal", "rel/s.bin"),
    ("runs/s.log", "journal", "runs/s.log"),
    ("s.journal", "journal", "s.journal"),
    ("sqlite:///a/b.db", "sqlite", "a/b.db"),
    ("b.db", "sqlite", "b.db"),
    ("postgresql://me:secret@db.example/search", "postgresql", None),
    ("postgres://me@db/search", "postgresql", None),
    ("mysql+pymysql://me@db/search", "rdb", None),
])
def test_urls(tmp_path, url, kind, path):
    choice = resolve_storage(url, tmp_path)
    assert choice.kind == kind
    assert (str(choice.path) if choice.path else None) == path
    assert "secret" not in choice.describe()
    if url.startswith("postgres://"):
        assert choice.url.startswith(("postgresql://", "postgresql+psycopg2://"))


@pytest.mark.parametrize("url, message", [
    ("redis://localhost", "unknown storage URL scheme 'redis'"),
    ("study.txt", "unknown storage 'study.txt'"),
    ("sqlite:///:memory:", "in-memory"),
    ("journal:", "names no file"),
])
def test_bad_urls_name_the_valid_forms(tmp_path, url, message):
    with pytest.raises(StorageError, match=message) as info:
        resolve_storage(url, tmp_path)
    assert "journal:PATH" in str(info.value) and "postgresql://" in str(info.value)


def test_unreachable_database_is_one_line():
    choice = resolve_storage("postgresql://nobody@127.0.0.1:9/none", Path("."))   # no server, maybe no driver
    with pytest.raises(StorageError, match="(cannot open storage|storage) postgresql") as info:
        open_storage(choice)
    assert "\n" not in str(info.value)


def test_journal_heartbeat_fails_and_requeues_a_stale_trial(tmp_path):
    choice = resolve_storage(f"journal:{tmp_path / 's.journal'}", tmp_path)
    storage = open_storage(choice, heartbeat_interval=1, grace_period=1, max_retry=1)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(study_name="s", storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        storage.record_heartbeat(compat.trial_id(trial))
        assert storage.stale_trial_ids(compat.study_id(study)) == []
        time.sleep(1.3)
        optuna.storages.fail_stale_trials(study)
    states = [(t.number, t.state) for t in study.trials]
    assert states == [(0, TrialState.FAIL), (1, TrialState.WAITING)]
    retry = study.trials[1]
    assert compat.retried_trial_number(retry) == 0 and retry.params == trial.params
    # the retry inherits its predecessor's system attributes, but not its heartbeat
    assert storage.stale_trial_ids(compat.study_id(study)) == []
    assert [t.number for t in counted_trials(study.trials)] == [1]


def test_counted_trials_drop_only_retried_failures():
    make = optuna.trial.create_trial
    trials = [make(state=TrialState.FAIL), make(value=1.0), make(state=TrialState.FAIL),
              make(state=TrialState.WAITING, system_attrs={"failed_trial": 0, "retry_history": [0]})]
    for number, t in enumerate(trials):
        t.number = number
    assert [t.number for t in counted_trials(trials)] == [1, 2, 3]    # trial 2 failed for good: it counts


def test_sqlite_study_moves_to_the_journal_once(tmp_path):
    db = resolve_storage(None, tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(db))
    for v in (1.0, 2.0):
        study.add_trial(optuna.trial.create_trial(value=v, params={"x": v},
                                                  distributions={"x": optuna.distributions.FloatDistribution(0, 3)}))
    journal = resolve_storage(None, tmp_path, workers=2)
    assert copy_default_sqlite(journal, tmp_path, "s")
    moved = optuna.load_study(study_name="s", storage=open_storage(journal))
    assert [t.value for t in moved.trials] == [1.0, 2.0]
    assert not copy_default_sqlite(journal, tmp_path, "s")          # only once


def test_file_lock_is_exclusive(tmp_path):
    import fcntl

    choice = resolve_storage(f"journal:{tmp_path / 's.journal'}", tmp_path)
    with study_lock(choice, None, "s"):
        with open(choice.lock_path, "a") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(choice.lock_path, "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)          # free again


def test_a_journal_truncated_by_a_killed_writer_is_repaired_on_resume(tmp_path, capsys):
    from archlab.search.storage import open_storage, repair_journal, resolve_storage

    choice = resolve_storage(str(tmp_path / "s.journal"), tmp_path, 1)
    study = optuna.create_study(storage=open_storage(choice), study_name="s")
    study.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=3)
    data = choice.path.read_bytes()
    choice.path.write_bytes(data[:-20])                      # killed in the middle of the last record
    study = optuna.load_study(storage=open_storage(choice), study_name="s")
    assert "dropped an incomplete last record" in capsys.readouterr().err
    study.optimize(lambda t: t.suggest_float("a", 0, 1), n_trials=2)
    again = optuna.load_study(storage=open_storage(choice), study_name="s")
    assert len(again.trials) == 5 and sum(t.state.is_finished() for t in again.trials) >= 4
    assert repair_journal(choice.path) == 0 and not (tmp_path / "s.journal.lock").exists()


def test_repair_waits_for_a_live_writer_and_keeps_its_record(tmp_path):
    """A record half-written by a live process (it holds Optuna's writer lock) is not dropped: the
    repair waits for the lock, then finds the record whole."""
    import threading

    from optuna.storages.journal import JournalFileSymlinkLock

    from archlab.search.storage import repair_journal

    path = tmp_path / "study.journal"
    path.write_bytes(b'{"op_code": 0}\n{"op_code": 1, "half')
    writer = JournalFileSymlinkLock(str(path))
    writer.acquire()
    dropped = []
    repair = threading.Thread(target=lambda: dropped.append(repair_journal(path)))
    repair.start()
    repair.join(timeout=1.0)
    assert repair.is_alive(), "the repair waits while a writer holds the lock"
    with open(path, "ab") as handle:
        handle.write(b' written"}\n')
    writer.release()
    repair.join(timeout=30)
    assert dropped == [0] and path.read_bytes().endswith(b'written"}\n')
