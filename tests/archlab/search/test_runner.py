import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import archlab
from archlab.search import optuna_compat as compat
from archlab.search.runner import SearchSettings, run_search
from archlab.search.space import SearchError
from archlab.search.storage import counted_trials, open_storage, resolve_storage
from archlab.spec import Spec

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))
from search_fixtures import SLOW, TINY  # noqa: E402

FAST = SearchSettings(progress=False, threads=1, heartbeat_interval=1, grace_period=3, poll_s=0.5)


def trials_of(storage_url, out, name="tiny_search"):
    storage = open_storage(resolve_storage(storage_url, out))
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def check_complete_trials(trials, space=TINY):
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        spec = Spec.from_json(t.user_attrs["spec"])
        assert spec.content_hash() == space.spec(t.params, validate=False).content_hash()
        record = t.user_attrs["record"]
        assert record["point"] == t.params and record["settings"]["accuracy"] == space.accuracy
        assert list(t.values) == record["objective_values"]
        assert set(t.constraints) == {"params_M"}


def test_search_records_every_trial_and_a_rerun_extends_the_same_study(tmp_path):
    settings = replace(FAST, trials=3, out=tmp_path)
    result = run_search(TINY, settings)
    assert (result.trials, result.ran, result.failed) == (3, 3, 0)
    trials = trials_of(None, tmp_path)
    assert [t.number for t in trials] == [0, 1, 2] and all(t.state == TrialState.COMPLETE for t in trials)
    assert (tmp_path / "study.db").is_file()
    check_complete_trials(trials)
    model = archlab.build(Spec.from_json(trials[0].user_attrs["spec"]), input_size=(1, 3, 64, 128))
    assert sum(p.numel() for p in model.parameters()) == trials[0].user_attrs["record"]["params"]
    assert result.front and all(n in range(3) for n, *_ in result.front)

    more = run_search(TINY, replace(settings, trials=5))
    assert (more.trials, more.ran) == (5, 2)
    assert [t.number for t in trials_of(None, tmp_path)] == [0, 1, 2, 3, 4]
    assert run_search(TINY, replace(settings, trials=5)).ran == 0          # target met: nothing to do

    with pytest.raises(SearchError, match="other settings.*accuracy: study 'proxy:params', this run 'proxy:synflow'"):
        run_search(TINY, replace(settings, trials=6, objective="proxy:synflow"))


def test_infeasible_and_failing_points_are_kept(tmp_path):
    strict = replace(TINY, constraints={"params_M": 0.1})            # nothing fits
    result = run_search(strict, replace(FAST, trials=2, out=tmp_path))
    trials = trials_of(None, tmp_path)
    assert result.feasible == 0 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.constraints["params_M"] > 0 and t.user_attrs["record"]["feasible"] is False for t in trials)
    assert result.front == []


def test_timeout_stops_starting_trials(tmp_path):
    result = run_search(TINY, replace(FAST, trials=3, timeout=1e-3, out=tmp_path))
    assert (result.ran, result.trials) == (0, 0)
    with pytest.raises(ValueError, match="--trials 0 must be a positive integer"):
        run_search(TINY, replace(FAST, trials=0, out=tmp_path))


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_workers_neither_duplicate_nor_lose_a_trial(tmp_path, storage):
    url = f"journal:{tmp_path / 's.journal'}" if storage == "journal" else f"sqlite:///{tmp_path / 's.db'}"
    result = run_search(TINY, replace(FAST, trials=6, workers=2, storage=url, out=tmp_path))
    trials = trials_of(url, tmp_path)
    assert result.trials == 6 and len(trials) == 6
    assert sorted(t.number for t in trials) == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    check_complete_trials(trials)


def _start_slow_worker(out: Path, storage: str, marks: Path) -> subprocess.Popen:
    env = dict(os.environ, SLOW_HOOK="1", SLOW_HOOK_SECONDS="120", SLOW_HOOK_DIR=str(marks),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(HERE / "search_fixtures.py"), str(out), "3", storage], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("storage", ["default", "journal"])
def test_a_killed_workers_trial_fails_by_heartbeat_and_is_retried(tmp_path, monkeypatch, storage):
    url = "default" if storage == "default" else f"journal:{tmp_path / 's.journal'}"
    marks = tmp_path / "marks"
    worker = _start_slow_worker(tmp_path, url, marks)
    try:
        deadline = time.time() + 120
        while not (marks.is_dir() and any(marks.iterdir())):          # the objective is running (sleeping)
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the worker never reached its objective"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    storage_url = None if url == "default" else url
    killed = [t for t in trials_of(storage_url, tmp_path) if t.state == TrialState.RUNNING]
    assert len(killed) == 1

    monkeypatch.setenv("SLOW_HOOK_SECONDS", "0")
    monkeypatch.delenv("SLOW_HOOK_DIR", raising=False)
    result = run_search(SLOW, replace(FAST, trials=3, storage=storage_url, out=tmp_path))
    trials = trials_of(storage_url, tmp_path)
    dead = next(t for t in trials if t.number == killed[0].number)
    assert dead.state == TrialState.FAIL and "record" not in dead.user_attrs
    retry = [t for t in trials if compat.retried_trial_number(t) == dead.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == dead.params
    assert result.trials == 3 and result.retried == 1 and len(counted_trials(trials)) == 3
    assert all(t.state == TrialState.COMPLETE for t in counted_trials(trials))
    check_complete_trials(trials, SLOW)


def test_workers_on_cpu_slots_run_on_disjoint_cores_and_records_name_their_slot(tmp_path, monkeypatch):
    from search_fixtures import PINNED

    monkeypatch.setenv("BARRIER_DIR", str(tmp_path / "barrier"))       # each worker's first trial waits for the other's
    monkeypatch.setenv("BARRIER_WORKERS", "2")
    url = f"journal:{tmp_path / 's.journal'}"
    settings = replace(FAST, trials=2, storage=url, out=tmp_path, threads=None, devices=("cpu:0", "cpu:1"))
    result = run_search(PINNED, settings)                   # no --workers: one per device
    trials = trials_of(url, tmp_path)
    assert result.trials == 2 and all(t.state == TrialState.COMPLETE for t in trials)
    records = [t.user_attrs["record"] for t in trials]
    assert sorted(r["worker_device"] for r in records) == ["cpu:0", "cpu:1"]
    assert all(r["latency_worker_device"] == r["worker_device"] and "cached_from" not in r for r in records)
    cores = {r["worker_device"]: set(r["worker_cores"]) for r in records}
    assert cores["cpu:0"] and cores["cpu:1"] and not cores["cpu:0"] & cores["cpu:1"]
    assert cores["cpu:0"] | cores["cpu:1"] <= set(os.sched_getaffinity(0))
    assert all(r["threads"] == len(cores[r["worker_device"]]) for r in records)      # one torch thread per core
    assert {r["settings"]["device"] for r in records} == {"cpu"}                    # the study's device is the kind
    assert len(list((tmp_path / "barrier").iterdir())) == 2                          # two processes measured


def test_devices_are_checked_against_the_device_and_the_machine(tmp_path):
    from archlab.devices import DeviceError

    with pytest.raises(DeviceError, match="--device cuda is not of the kind of --devices cpu:0,cpu:1"):
        run_search(TINY, replace(FAST, trials=1, out=tmp_path, devices=("cpu:0", "cpu:1"), device="cuda"))
    with pytest.raises(DeviceError, match="mixes cpu and cuda"):
        run_search(TINY, replace(FAST, trials=1, out=tmp_path, devices=("cpu:0", "cuda:0")))
    assert not list(tmp_path.iterdir())                     # refused before a study was made
