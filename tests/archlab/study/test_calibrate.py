"""Budget calibration (archlab/study/calibrate.py): rank agreement per budget, the cheapest that agrees."""
import pandas as pd
import pytest

from archlab.study import Study, StudySettings, Variant, run_study, width
from archlab.study.calibrate import calibrate, cheapest_agreeing, ladder, summarise, verdict, write_calibration
from archlab.train import TrainConfig


def _rows(mious: dict, seconds: float = 10.0):
    """{(variant, seed): record-like row} from {variant: [mIoU of seed 0, seed 1, ...]}."""
    return {(v, s): {"status": "ok", "miou": m, "train_time_s": seconds, "eval_time_s": 0.0}
            for v, values in mious.items() for s, m in enumerate(values)}


def test_summary_on_fixed_numbers():
    order, seeds = ["a", "b", "c"], [0, 1]
    noisy = _rows({"a": [0.30, 0.34], "b": [0.33, 0.31], "c": [0.32, 0.32]}, seconds=10)   # seeds disagree
    clear = _rows({"a": [0.30, 0.31], "b": [0.35, 0.36], "c": [0.40, 0.41]}, seconds=20)   # seeds agree
    large = _rows({"a": [0.40, 0.41], "b": [0.45, 0.46], "c": [0.50, 0.52]}, seconds=40)
    summary, per_variant = summarise([(TrainConfig(steps=10), noisy), (TrainConfig(steps=20), clear),
                                      (TrainConfig(steps=40), large)], order, seeds)
    assert list(summary["steps"]) == [10, 20, 40]
    assert summary.loc[0, "tau_seeds"] == pytest.approx(-1.0) and not summary.loc[0, "agrees"]
    assert summary.loc[1, "tau_seeds"] == pytest.approx(1.0) and summary.loc[1, "tau_vs_largest"] == pytest.approx(1)
    assert summary.loc[1, "agrees"] and summary.loc[2, "agrees"]
    assert summary.loc[1, "seed_std"] == pytest.approx(0.01 / 2 ** 0.5)
    assert summary.loc[1, "spread"] == pytest.approx(0.05) and summary.loc[1, "wall_time_s"] == 120
    assert cheapest_agreeing(summary) == "20 steps x 16 at 128x256" and summary.loc[1, "mpx_per_training"] == 20 * 16 * 128 * 256 / 1e6
    assert "cheapest budget" in verdict(summary)
    assert len(per_variant) == 9


def test_no_budget_agrees_is_said_in_plain_words():
    order, seeds = ["a", "b", "c"], [0, 1]
    noisy = _rows({"a": [0.30, 0.34], "b": [0.33, 0.31], "c": [0.32, 0.32]})
    summary, _ = summarise([(TrainConfig(steps=10), noisy), (TrainConfig(steps=20), noisy)], order, seeds)
    assert cheapest_agreeing(summary) is None
    assert "No budget in this ladder agrees" in verdict(summary)


TOY = Study(
    name="toy", title="toy study", base="small_rf_cnn",
    variants=(Variant("full"), Variant("half", (width(0.5),))), baseline="full", size=(32, 64),
    train={"size": (32, 64), "steps": 2, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 4},
    latency_runs=2, latency_warmup=0, seeds=2, calibration=({"steps": 1}, {"steps": 2}),
)


def test_calibration_shares_the_studys_trainings_and_writes_its_report(tmp_path, monkeypatch):
    import archlab.train

    assert ladder(TOY) == [{"steps": 1}, {"steps": 2}]
    summary, variants = calibrate(TOY, StudySettings(), out=tmp_path, runs_dir=tmp_path / "runs", progress=False)
    assert list(summary["steps"]) == [1, 2] and (summary["seeds"] == 2).all() and len(variants) == 4
    written = write_calibration(TOY, summary, variants, tmp_path, command="python -m archlab.study toy --calibrate",
                                device="cpu")
    assert all(p.is_file() for p in written)
    text = (tmp_path / "calibration.md").read_text()
    assert "--calibrate" in text and "τ seeds" in text and "2 steps x 2 at 32x64" in text
    assert pd.read_csv(tmp_path / "calibration.csv")["wall_time_s"].gt(0).all()

    calls = []
    real = archlab.train.train
    monkeypatch.setattr(archlab.train, "train", lambda *a, **k: calls.append(a[0].name) or real(*a, **k))
    run_study(TOY, StudySettings(train=True), out=tmp_path, runs_dir=tmp_path / "runs", progress=False)
    assert calls == []     # the study's budget (2 steps, seeds 0 and 1) was a calibration rung


def test_default_ladder_is_half_once_and_twice_the_steps():
    plain = Study(**{**TOY.__dict__, "calibration": ()})
    assert ladder(plain) == [{"steps": 1}, {"steps": 2}, {"steps": 4}]
