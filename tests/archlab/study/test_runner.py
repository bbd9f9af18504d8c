"""Running a study: every stage cached, an interruption loses nothing and repeats nothing."""
import importlib
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

import archlab
import archlab.train
from archlab.study import Study, StudyError, StudySettings, Variant, run_study, width

PROFILE = importlib.import_module("archlab.profile")   # the package (archlab.profile is also the function)

TOY = Study(
    name="toy", title="toy study", base="small_rf_cnn",
    variants=(Variant("full"), Variant("half", (width(0.5),)), Variant("colour", base="color_mlp")),
    baseline="full", size=(32, 64),
    train={"size": (32, 64), "steps": 2, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 4},
    latency_runs=2, latency_warmup=0, seeds=2,
)


def _counting(monkeypatch):
    calls = {"profile": [], "train": []}
    real_profile, real_train = PROFILE.profile, archlab.train.train

    def profile(spec, *a, **k):
        calls["profile"].append(spec.name)
        return real_profile(spec, *a, **k)

    def train(spec, *a, **k):
        calls["train"].append(spec.name)
        return real_train(spec, *a, **k)

    monkeypatch.setattr(PROFILE, "profile", profile)
    monkeypatch.setattr(archlab.train, "train", train)
    return calls


def test_a_killed_multi_seed_study_resumes_without_repeating_a_finished_seed(tmp_path, monkeypatch):
    out, runs = tmp_path / "report", tmp_path / "runs"
    real_train = archlab.train.train

    def interrupt_on_half_seed_1(spec, config, *a, **k):
        if spec.name == "toy[half]" and config.seed == 1:
            raise KeyboardInterrupt
        return real_train(spec, config, *a, **k)

    with mock.patch.object(archlab.train, "train", interrupt_on_half_seed_1), pytest.raises(KeyboardInterrupt):
        run_study(TOY, out=out, runs_dir=runs, progress=False)
    saved = pd.read_csv(out / "results.csv")
    assert list(saved["variant"]) == ["full", "half", "colour"] and saved["params"].gt(0).all()  # all profiled
    seeds = pd.read_csv(out / "seeds.csv")   # seed-major: every variant of seed 0, then full of seed 1
    assert sorted(zip(seeds["variant"], seeds["seed"])) == [("colour", 0), ("full", 0), ("full", 1), ("half", 0)]

    calls = _counting(monkeypatch)
    frame = run_study(TOY, out=out, runs_dir=runs, progress=False)
    assert calls == {"profile": [], "train": ["toy[half]", "toy[colour]"]}
    assert list(frame["variant"]) == ["full", "half", "colour"] and frame["miou"].notna().all()
    assert (frame["miou_seeds"] == 2).all() and (frame["train_seeds"] == "0,1").all()
    again_seeds = pd.read_csv(out / "seeds.csv").set_index(["variant", "seed"])
    first = seeds.set_index(["variant", "seed"])
    assert again_seeds.loc[("full", 0), "miou"] == first.loc[("full", 0), "miou"]
    full = again_seeds.loc["full", "miou"]
    assert frame.loc[0, "miou"] == pytest.approx(full.mean())

    calls["profile"].clear(), calls["train"].clear()
    again = run_study(TOY, out=out, runs_dir=runs, progress=False)
    assert calls == {"profile": [], "train": []}
    pd.testing.assert_frame_equal(again, frame, check_dtype=False)

    run_study(TOY, out=out, runs_dir=runs, progress=False, force=True)
    assert len(calls["profile"]) == 3 and len(calls["train"]) == 6


def test_what_decides_a_training_is_in_its_cache_key(tmp_path, monkeypatch):
    from archlab.train import provenance

    one = Study(**{**TOY.__dict__, "variants": TOY.variants[:1], "seeds": 1})
    run_study(one, StudySettings(threads=1), out=tmp_path, runs_dir=tmp_path / "r", progress=False)
    calls = _counting(monkeypatch)
    run_study(one, StudySettings(threads=1), out=tmp_path, runs_dir=tmp_path / "r", progress=False)
    assert calls["train"] == []                                            # same everything: cached
    run_study(one, StudySettings(threads=2), out=tmp_path, runs_dir=tmp_path / "r", progress=False)
    assert calls["train"] == ["toy[full]"]                                 # thread count
    run_study(one, StudySettings(threads=1, budget={"steps": 3}), out=tmp_path, runs_dir=tmp_path / "r",
              progress=False)
    assert calls["train"] == ["toy[full]"] * 2                             # budget
    monkeypatch.setattr(provenance, "source_digest", lambda paths=None: "another-revision")
    run_study(one, StudySettings(threads=1), out=tmp_path, runs_dir=tmp_path / "r", progress=False)
    assert calls["train"] == ["toy[full]"] * 3                             # code revision
    row = pd.read_csv(tmp_path / "seeds.csv").iloc[-1]
    assert row["code_digest"] and row["train_threads"] in (1, 2) and row["torch_version"]


def test_other_settings_are_new_measurements(tmp_path, monkeypatch):
    run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False)
    calls = _counting(monkeypatch)
    run_study(TOY, StudySettings(train=False, size=(64, 64)), out=tmp_path, progress=False)
    assert len(calls["profile"]) == 3
    frame = pd.read_csv(tmp_path / "results.csv")
    assert set(frame["input_size"]) == {"1x3x64x64"} and "miou" not in frame


def test_results_carry_units_settings_and_breakdowns(tmp_path):
    frame = run_study(TOY, StudySettings(budget={"steps": 1}), out=tmp_path, runs_dir=tmp_path / "r", progress=False)
    row = frame.iloc[1]
    assert row["params"] < frame.iloc[0]["params"] and row["macs_fvcore"] > 0 and row["latency_ms_median"] > 0
    assert row["train_steps"] == 1 and row["miou_dataset"] == "synthstreets" and row["device"] == "cpu"
    assert row["ops"] == "width(0.5)" and len(row["spec_hash"]) == 16
    nodes = pd.read_csv(tmp_path / "breakdown" / "half.csv")
    assert nodes["params"].sum() == row["params"]


def test_a_size_a_variant_cannot_take_is_refused_before_any_work(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    with pytest.raises(StudyError, match=r"variant 'full': cannot run at the training size 33x65"):
        run_study(TOY, StudySettings(budget={"size": (33, 65)}), out=tmp_path, progress=False)
    assert calls == {"profile": [], "train": []} and not (tmp_path / "results.csv").exists()


def test_interleaved_timing_finds_identical_variants_equal_under_load(tmp_path):
    # Two identical variants timed while two busy-looping processes compete for the CPU: timed one
    # after the other, such load gave FPS ratios from 0.24 to 1.10; paired within rounds it cancels.
    import subprocess
    import sys

    twins = Study(name="twins", title="two identical variants", base="fast_scnn",
                  variants=(Variant("a"), Variant("b")), baseline="a", size=(128, 256),
                  latency_runs=15, latency_warmup=2, latency_runs_per_round=3)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        frame = run_study(twins, StudySettings(train=False, threads=1), out=tmp_path, progress=False)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    b = frame.set_index("variant").loc["b"]
    assert 0.9 <= b["fps_ratio"] <= 1.1, f"identical variants' paired FPS ratio {b['fps_ratio']:.3f} under load"
    assert b["fps_ratio_p25"] <= b["fps_ratio"] <= b["fps_ratio_p75"] and b["latency_rounds"] == 15
    nodes = pd.read_csv(tmp_path / "breakdown" / "b.csv")
    assert nodes["latency_ms"].gt(0).all() and abs(nodes["latency_share"].sum() - 1) < 1e-9


def test_the_timing_stage_is_cached_with_every_variant_and_redone_when_one_changes(tmp_path, monkeypatch):
    interleaved = importlib.import_module("archlab.profile.interleaved")
    calls = []
    real = interleaved.measure_interleaved
    monkeypatch.setattr(interleaved, "measure_interleaved", lambda models, *a, **k: calls.append(list(models))
                        or real(models, *a, **k))
    run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False)
    run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False)
    assert calls == [["full", "half", "colour"]]               # second run: every row's timing key matched
    run_study(TOY, StudySettings(train=False, runs=3), out=tmp_path, progress=False)
    assert len(calls) == 2                                      # other timing settings: all timed again, together
    profiled = _counting(monkeypatch)
    run_study(TOY, StudySettings(train=False, runs=3, retime=True), out=tmp_path, progress=False)
    assert len(calls) == 3 and profiled["profile"] == []       # --retime: timed again, counts stay cached


@pytest.mark.parametrize("content, message", [
    ("variant,params\nfull,12\nhalf", None),                              # truncated mid-row: still parses
    ("", "cannot be read as a CSV table"),
    ("\x00\xff\xfe garbage", "has no column"),
    ("name,params\nfull,12\n", r"has no column\(s\) \['variant'\]"),
])
def test_a_corrupt_results_file_is_named_and_force_gets_past_it(tmp_path, content, message):
    (tmp_path / "results.csv").write_text(content, errors="surrogateescape")
    if message is not None:
        with pytest.raises(archlab.ArchlabError, match=rf"results.csv {message}.*--force"):
            run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False)
    frame = run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False, force=True)
    assert list(frame["variant"]) == ["full", "half", "colour"]


def test_integer_columns_stay_integers_after_a_resume(tmp_path):
    run_study(TOY, StudySettings(train=False), out=tmp_path, progress=False)
    first = (tmp_path / "results.csv").read_text()
    run_study(TOY, StudySettings(train=False, runs=3), out=tmp_path, progress=False)  # rows rewritten from the file
    frame = pd.read_csv(tmp_path / "results.csv")
    assert frame["params"].dtype.kind == "i" and frame["latency_rounds"].tolist() == [3, 3, 3]
    assert ",30.0" not in first and ".0," not in (tmp_path / "results.csv").read_text().split("\n")[1].split(
        "spec_json")[0]


TWO_PROCESSES = """
import sys
from unittest import mock
import archlab.profile
from archlab.study import Study, StudySettings, Variant, run_study, width
TOY = Study(name="toy", title="toy study", base="small_rf_cnn", baseline="full", size=(32, 64),
            variants=(Variant("full"), Variant("half", (width(0.5),)), Variant("colour", base="color_mlp")),
            latency_runs=2, latency_warmup=0)
package = sys.modules["archlab.profile"]
import pathlib, time
calls, real = [], package.profile
marker = pathlib.Path(sys.argv[1]) / "second-started"
def counted(*a, **k):
    if sys.argv[2] == "first" and not calls:   # hold the study until the second process is up and waiting
        deadline = time.time() + 120
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(3)   # the second has touched the marker and is on its way to the lock
    calls.append(1)
    return real(*a, **k)
if sys.argv[2] == "second":
    marker.touch()
with mock.patch.object(package, "profile", counted):
    run_study(TOY, StudySettings(train=False), out=sys.argv[1], progress=False)
print("COUNTED", len(calls))
"""


def test_two_processes_on_one_study_do_the_work_once(tmp_path):
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, str(tmp_path), role], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for role in ("first", "second")]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    counts = sorted(int(out.split("COUNTED")[-1]) for out, _ in outputs)
    assert counts == [0, 3], outputs          # one process measured all three variants, the other reused them
    assert any("another process is running this study" in err for _, err in outputs)
    assert list(pd.read_csv(tmp_path / "results.csv")["variant"]) == ["full", "half", "colour"]
