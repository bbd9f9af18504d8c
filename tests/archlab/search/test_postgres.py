"""archlab.search workers sharing one study on a real PostgreSQL.

Checked on the throwaway server of ``tests/conftest.py`` (``postgres_url``: an empty database
per test), with the tiny test spaces of ``search_fixtures.py`` (a trial takes about a second):

* two worker processes started at the same moment on the empty database (both race to create
  Optuna's tables and the study) finish a target of N trials exactly: N trials numbered 0..N-1,
  all COMPLETE with their ``spec`` and ``record``, none run twice (the workers' own counts add
  up to N) — the count is made exact by the PostgreSQL advisory lock of
  :func:`archlab.search.storage.study_lock`;
* after a first run has finished some trials, a worker process SIGKILLed while its objective
  runs (the sleeping hook ``search_fixtures:sleepy``, on a point enqueued so that it is measured
  rather than copied from an earlier trial) leaves its trial RUNNING; the next worker (here
  ``run_search`` in the test's process) fails it once its heartbeat is older than the grace
  period (RDBStorage's heartbeat) and runs it again with the same parameters (Optuna's
  ``RetryHeartbeatStaleTrialCallback``: the retry's system attribute ``failed_trial``), every
  trial finished before the kill kept as it was, N trials counted in the end.

Workers run with a 1 s heartbeat and a 3 s grace period (``search_fixtures.main`` and
:data:`FAST`), so a dead worker's trial is retried within seconds.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from archlab.search import optuna_compat as compat
from archlab.search.runner import SearchSettings, run_search
from archlab.search.storage import counted_trials, open_storage, resolve_storage
from archlab.spec import Spec

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))
from search_fixtures import SLOW, TINY  # noqa: E402

FAST = SearchSettings(progress=False, threads=1, heartbeat_interval=1, grace_period=3, poll_s=0.5)


def start_worker(out: Path, trials: int, url: str, log: Path, **env) -> subprocess.Popen:
    """``python search_fixtures.py OUT TRIALS URL``: one archlab.search worker process, in its own
    process group, its output in ``log``; ``env`` adds environment variables (the hook's)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, str(HERE / "search_fixtures.py"), str(out), str(trials), url],
                                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 90) -> dict:
    """Wait for a worker; its summary line ``ran=.. trials=.. retried=..`` as a dict."""
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"worker still running after {timeout} s:\n{log.read_text()[-3000:]}")
    text = log.read_text()
    assert rc == 0, f"worker exited {rc}:\n{text[-3000:]}"
    found = re.search(r"ran=(\d+) trials=(\d+) retried=(\d+)", text)
    assert found, text[-3000:]
    return dict(zip(("ran", "trials", "retried"), map(int, found.groups())))


def trials_of(url: str, name: str) -> list:
    storage = open_storage(resolve_storage(url, Path(".")))
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials()
    finally:
        storage.engine.dispose()


def enqueue(url: str, name: str, params: dict) -> None:
    storage = open_storage(resolve_storage(url, Path(".")))
    try:
        optuna.load_study(study_name=name, storage=storage).enqueue_trial(params)
    finally:
        storage.engine.dispose()


def check_trials(trials: list, space) -> None:
    """Numbers 0..n-1, each trial once; every COMPLETE trial carries the spec of its point and its record."""
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len({compat.trial_id(t) for t in trials}) == len(trials)
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        spec = Spec.from_json(t.user_attrs["spec"])
        assert spec.content_hash() == space.spec(t.params, validate=False).content_hash(), t.number
        record = t.user_attrs["record"]
        assert record["point"] == t.params and list(t.values) == record["objective_values"], t.number
        assert set(t.constraints) == {"params_M"}


def test_two_workers_started_together_on_an_empty_database_run_exactly_the_target(postgres_url, tmp_path):
    target = 8
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    procs = [start_worker(tmp_path / f"out{i}", target, postgres_url, log) for i, log in enumerate(logs)]
    results = [finish(p, log) for p, log in zip(procs, logs)]

    trials = trials_of(postgres_url, TINY.name)
    assert len(trials) == target and all(t.state == TrialState.COMPLETE for t in trials)
    check_trials(trials, TINY)
    assert [r["trials"] for r in results] == [target, target]
    assert sum(r["ran"] for r in results) == target, f"no trial run twice or lost: {results}"
    assert all(r["ran"] >= 1 for r in results), f"both workers ran trials: {results}"


def test_a_killed_workers_trial_fails_by_heartbeat_and_is_retried_with_finished_trials_kept(
        postgres_url, tmp_path, monkeypatch):
    before, target = 3, 6
    monkeypatch.setenv("SLOW_HOOK_SECONDS", "0")
    monkeypatch.delenv("SLOW_HOOK_DIR", raising=False)
    settings = replace(FAST, storage=postgres_url, out=tmp_path)
    assert run_search(SLOW, replace(settings, trials=before)).trials == before     # earlier, finished trials
    # the next trial is a point not measured yet, so the worker below runs the objective (and its hook)
    # rather than copying a record: it hangs in its first trial whatever the sampler would pick
    measured = [t.params for t in trials_of(postgres_url, SLOW.name)]
    fresh = next(p for p in SLOW.points() if p not in measured)
    enqueue(postgres_url, SLOW.name, fresh)

    marks, log = tmp_path / "marks", tmp_path / "killed.log"
    victim = start_worker(tmp_path, target, postgres_url, log, SLOW_HOOK="1", SLOW_HOOK_SECONDS="120",
                          SLOW_HOOK_DIR=str(marks))
    try:
        deadline = time.monotonic() + 90
        while not (marks.is_dir() and any(marks.iterdir())):          # its objective is running (sleeping)
            assert victim.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never reached its objective"
            time.sleep(0.2)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    assert victim.returncode == -signal.SIGKILL
    snapshot = trials_of(postgres_url, SLOW.name)
    kept = {t.number: (t.params, t.values, t.user_attrs["record"]) for t in snapshot
            if t.state == TrialState.COMPLETE}
    assert sorted(kept) == list(range(before))
    (killed,) = [t for t in snapshot if t.state == TrialState.RUNNING]
    assert killed.number == before and killed.params == fresh
    assert "record" not in killed.user_attrs and "spec" in killed.user_attrs

    result = run_search(SLOW, replace(settings, trials=target))           # the next worker
    trials = trials_of(postgres_url, SLOW.name)
    check_trials(trials, SLOW)
    by_number = {t.number: t for t in trials}
    assert by_number[killed.number].state == TrialState.FAIL
    retries = [t for t in trials if compat.retried_trial_number(t) == killed.number]
    assert len(retries) == 1, "the killed trial is retried exactly once"
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == fresh
    assert "cached_from" not in retries[0].user_attrs["record"]         # measured, as the killed one never was
    assert {n: (by_number[n].params, by_number[n].values, by_number[n].user_attrs["record"])
            for n in kept} == kept, "trials finished before the kill are kept as they were"
    counted = counted_trials(trials)
    assert len(counted) == target and all(t.state == TrialState.COMPLETE for t in counted)
    assert len(trials) == target + 1                                  # the counted ones and the dead one
    assert (result.trials, result.retried) == (target, 1)
