"""A study's jobs on several workers (archlab.study.fanout): each job once, none lost, a killed
worker's job retried, the same results as one process, on a journal file and on a real PostgreSQL.

Every fanned-out run here is compared with the single-process run of the same toy study (the
module fixture ``reference``): counts, trainings (weights' SHA-256 and mIoU) and every
deterministic column of ``results.csv`` must be equal. All runs train with one thread, since
the thread count is part of a training's key.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from archlab.search.storage import open_storage, resolve_storage
from archlab.study import StudySettings, run_study
from archlab.study.fanout import store_name
from archlab.study.loader import load_study

ROOT = Path(__file__).parents[3]
STUDY_FILE = """
from archlab.study import Study, Variant, width

STUDY = Study(
    name="toy_fan", title="toy fan-out study", base="small_rf_cnn",
    variants=(Variant("full"), Variant("half", (width(0.5),)), Variant("colour", base="color_mlp")),
    baseline="full", size=(32, 64),
    train={"size": (32, 64), "steps": STEPS, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 8},
    latency_runs=2, latency_warmup=0, seeds=2,
)
"""
FAST = dict(threads=1, heartbeat_interval=1, grace_period=3)
#: Columns that differ between two runs of the same study however it is run (clocks, paths, timings).
VOLATILE = ("timing_key", "train_run", "date", "cpu_threads", "device_name", "cpu_allocator")


def study_file(folder: Path, steps: int = 30) -> Path:
    path = folder / "toy_fan.py"
    path.write_text(STUDY_FILE.replace("STEPS", str(steps)))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-process run: (study file, its OUT)."""
    folder = tmp_path_factory.mktemp("reference")
    path = study_file(folder)
    run_study(load_study(str(path)), StudySettings(threads=1), out=folder / "out", runs_dir=folder / "runs",
              progress=False)
    return path, folder / "out"


def assert_same_results(out: Path, reference_out: Path) -> None:
    """Counts, every training (weights and mIoU) and every deterministic column equal the reference's."""
    seeds, ref_seeds = (pd.read_csv(p / "seeds.csv").sort_values(["variant", "seed"]).reset_index(drop=True)
                        for p in (out, reference_out))
    assert list(zip(seeds.variant, seeds.seed)) == list(zip(ref_seeds.variant, ref_seeds.seed))
    assert list(seeds.weights_sha256) == list(ref_seeds.weights_sha256)
    assert list(seeds.miou) == list(ref_seeds.miou)
    frame, ref = pd.read_csv(out / "results.csv"), pd.read_csv(reference_out / "results.csv")
    assert list(frame.variant) == list(ref.variant) and set(frame.columns) == set(ref.columns)
    for column in ref.columns:
        if column.endswith("_time_s") or column.startswith(("latency", "fps")) or column in VOLATILE:
            continue
        assert frame[column].equals(ref[column]), column


def job_trials(url: str, name: str = "toy_fan") -> list:
    storage = open_storage(resolve_storage(url, Path(".")))
    try:
        return optuna.load_study(study_name=store_name(name), storage=storage).get_trials()
    finally:
        getattr(storage, "engine", None) and storage.engine.dispose()


def assert_each_job_once(trials: list, jobs: int = 10) -> None:
    """Every job of the plan completed exactly once (a retried job: its dead trial FAIL, its retry COMPLETE)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    keys = [t.user_attrs["job"]["key"] for t in complete]
    assert len(keys) == len(set(keys)) == jobs, "each job completed once"
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in trials)
    for t in trials:
        if t.state == TrialState.FAIL:
            assert any(r.system_attrs.get("failed_trial") is not None and
                       r.user_attrs["job"]["key"] == t.user_attrs["job"]["key"] for r in complete)


def command(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "archlab.study", str(path), "--out", str(out), "--runs-dir", str(out / "runs"),
            "--threads", "1", "--heartbeat", "1", "--grace-period", "3", *extra]


def test_two_local_workers_run_each_job_once_and_equal_one_process(reference, tmp_path):
    path, reference_out = reference
    out = tmp_path / "out"
    written = []
    run_study(load_study(str(path)), StudySettings(workers=2, **FAST), out=out, runs_dir=tmp_path / "runs",
              progress=False, report=lambda frame: written.append(len(frame)))
    trials = job_trials(f"journal:{out / 'jobs.journal'}")
    assert_each_job_once(trials)
    assert not any(t.state == TrialState.FAIL for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both workers ran jobs"
    assert written == [3], "the reports are written once"
    assert_same_results(out, reference_out)
    (timing,) = [t for t in trials if t.user_attrs["job"]["kind"] == "timing"]
    others = [t for t in trials if t.user_attrs["job"]["kind"] != "timing"]
    assert timing.datetime_start >= max(t.datetime_complete for t in others), "nothing trains beside the clock"


def test_a_sigkilled_workers_job_is_retried_and_results_equal_one_process(tmp_path):
    slow = study_file(tmp_path, steps=400)          # trainings of a few seconds, to be caught running
    out = tmp_path / "out"
    journal = f"journal:{out / 'jobs.journal'}"
    # the reference for 400 steps: one process
    ref_out = tmp_path / "ref"
    run_study(load_study(str(slow)), StudySettings(threads=1), out=ref_out, runs_dir=tmp_path / "ref-runs",
              progress=False)
    proc = subprocess.Popen(command(slow, out, "--workers", "2"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    victim = None
    try:
        deadline = time.monotonic() + 120
        while victim is None:
            assert proc.poll() is None and time.monotonic() < deadline, "no training was caught running"
            if (out / "jobs.journal").is_file():
                running = [t for t in job_trials(journal) if t.state == TrialState.RUNNING
                           and t.user_attrs["job"]["kind"] == "train" and "worker" in t.user_attrs]
                if running:
                    victim = running[0]
            time.sleep(0.2)
        pid = int(victim.user_attrs["worker"].split(":")[1].split("/")[0])
        os.kill(pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output[-3000:]
    trials = job_trials(journal)
    assert_each_job_once(trials)
    dead = [t for t in trials if t.number == victim.number][0]
    assert dead.state == TrialState.FAIL
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["job"] == victim.user_attrs["job"]
    assert "exited with code -9" in output
    assert_same_results(out, ref_out)


def test_two_machines_on_postgresql_share_the_jobs_and_one_writes_the_reports(reference, postgres_url, tmp_path):
    path, reference_out = reference
    outs = [tmp_path / f"machine{i}" for i in range(2)]      # separate OUT and runs: as two machines
    procs = [subprocess.Popen(command(path, out, "--storage", postgres_url), cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for out in outs]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-2000:] for log in logs)
    trials = job_trials(postgres_url)
    assert_each_job_once(trials)
    assert len({t.user_attrs["worker"].split("/")[0] for t in trials}) == 2, "both processes ran jobs"
    reporters = [out for out in outs if (out / "table.md").is_file()]
    assert len(reporters) == 1, "the reports are written once, by the run that finished last"
    for out in outs:                      # every machine's results.csv holds every job's result
        assert_same_results(out, reference_out)


def test_devices_give_each_worker_its_own_cores(reference, tmp_path):
    path, reference_out = reference
    out = tmp_path / "out"
    run_study(load_study(str(path)), StudySettings(devices=("cpu:0", "cpu:1"), workers=2, **FAST), out=out,
              runs_dir=tmp_path / "runs", progress=False)
    trials = job_trials(f"journal:{out / 'jobs.journal'}")
    assert all(t.state == TrialState.COMPLETE for t in trials), [(t.number, t.state, t.user_attrs) for t in trials]
    slots = {t.user_attrs["slot"]: tuple(t.user_attrs["cores"]) for t in trials}
    assert set(slots) == {"cpu:0", "cpu:1"}
    cores = os.sched_getaffinity(0)
    if len(cores) >= 2:
        assert not set(slots["cpu:0"]) & set(slots["cpu:1"]), f"disjoint core shares: {slots}"
    assert_same_results(out, reference_out)


def test_status_and_report_read_the_store(reference, tmp_path):
    path = reference[0]
    out = tmp_path / "out"
    run = subprocess.run(command(path, out, "--workers", "2"), cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    status = subprocess.run(command(path, out, "--status"), cwd=tmp_path, capture_output=True, text=True)
    state = json.loads(status.stdout)
    assert (state["jobs"], state["done"], state["failed"], state["reported"]) == (10, 10, 0, True)
    assert state["by_kind"]["train"]["done"] == 6 and len(state["workers"]) == 2
    (out / "table.md").unlink()
    again = subprocess.run(command(path, out, "--report"), cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0 and (out / "table.md").is_file(), again.stderr[-2000:]


def test_force_runs_every_job_again_in_a_new_generation(reference, tmp_path):
    path = reference[0]
    out, settings = tmp_path / "out", StudySettings(workers=2, train=False, **FAST)
    study = load_study(str(path))
    run_study(study, settings, out=out, progress=False)
    run_study(study, settings, out=out, progress=False, force=True)
    trials = job_trials(f"journal:{out / 'jobs.journal'}")
    assert sorted(t.user_attrs["generation"] for t in trials) == [0] * 4 + [1] * 4
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert not any(t.user_attrs["result"]["cached"] for t in trials if t.user_attrs["generation"] == 1)


def test_bad_devices_are_refused_with_the_option_named(tmp_path):
    path = study_file(tmp_path)
    for devices, says in (("cpu:0,cuda:0", "mixes cpu and cuda"), ("gpu0", "is not a device"),
                          ("cpu:0,cpu:2", "numbered 0..1")):
        run = subprocess.run([sys.executable, "-m", "archlab.study", str(path), "--devices", devices],
                             capture_output=True, text=True, cwd=tmp_path)
        assert run.returncode == 2 and "--devices" in run.stderr and says in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


USER_BLOCKS = '''
import torch
from torch import nn

import archlab


@archlab.register_block("scaled_identity", paper="(a test block)")
class ScaledIdentity(nn.Module):
    def __init__(self, in_channels, scale: float = 1.0):
        super().__init__()
        self.out_channels, self.stride, self.scale = in_channels, 1, scale

    def forward(self, x):
        return x * self.scale
'''
USER_STUDY = '''
import my_fan_blocks  # noqa: F401 - registers scaled_identity
from archlab.study import Study, Variant, replace

STUDY = Study(name="user_fan", title="a user's block in a fanned-out study", base="small_rf_cnn",
              variants=(Variant("plain"), Variant("scaled", (replace("conv2", block="scaled_identity", scale=0.5),))),
              baseline="plain", size=(32, 64), latency_runs=2, latency_warmup=0)
'''


def test_workers_know_the_blocks_a_user_module_registered(tmp_path):
    (tmp_path / "my_fan_blocks.py").write_text(USER_BLOCKS)
    (tmp_path / "user_fan.py").write_text(USER_STUDY)
    run = subprocess.run([sys.executable, "-m", "archlab.study", "user_fan.py", "--no-train", "--workers", "2",
                          "--threads", "1", "--out", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "scaled" in pd.read_csv(tmp_path / "out" / "results.csv")["variant"].tolist()
    assert all(t.state == TrialState.COMPLETE for t in job_trials(f"journal:{tmp_path / 'out' / 'jobs.journal'}",
                                                                 "user_fan"))
