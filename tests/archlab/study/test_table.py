"""The study table's accuracy columns (archlab/study/table.py): intervals, resolved marks, scale flags."""
import pandas as pd

from archlab.study import Study, Variant
from archlab.study.table import markdown_table

STUDY = Study(name="t", title="T", base="small_rf_cnn", baseline="base",
              variants=(Variant("base"), Variant("better"), Variant("same")), scale_note="Too dear to fix.")


def _frame():
    common = {"input_size": "1x3x64x64", "params": 1000, "macs_fvcore": 1e6, "status": "ok", "miou_dataset": "synthstreets",
              "miou_split": "val", "miou_images": 10, "miou_size": "32x64", "train_steps": 5, "train_batch": 2,
              "train_size": "32x64", "train_lr": 0.05, "train_seeds": "0,1,2", "miou_seeds": 3, "train_threads": 2,
              "base": "small_rf_cnn", "ops": "(base)", "scale_checked_at": "32x64 vs 64x64", "scale_clean_size": "48x48"}
    rows = [
        {"variant": "base", "miou": 0.30, "miou_ci_low": 0.28, "miou_ci_high": 0.32, "miou_delta": 0.0,
         "miou_delta_low": 0.0, "miou_delta_high": 0.0, "miou_delta_resolved": False, "scale_flags": ""},
        {"variant": "better", "miou": 0.33, "miou_ci_low": 0.30, "miou_ci_high": 0.36, "miou_delta": 0.03,
         "miou_delta_low": 0.01, "miou_delta_high": 0.05, "miou_delta_resolved": True,
         "scale_flags": "context (aspp): rate-18 taps read only padding on its 4x8 map"},
        {"variant": "same", "miou": 0.305, "miou_ci_low": 0.28, "miou_ci_high": 0.33, "miou_delta": 0.005,
         "miou_delta_low": -0.01, "miou_delta_high": 0.02, "miou_delta_resolved": False, "scale_flags": ""},
    ]
    return pd.DataFrame([{**common, **r} for r in rows])


def test_rows_show_mean_interval_paired_delta_and_resolved_mark():
    text = markdown_table(STUDY, _frame(), command="python -m archlab.study t")
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "30.0 ± 2.0" in lines["base"] and "(baseline)" in lines["base"]
    assert "33.0 ± 3.0" in lines["better"] and "+3.0 ± 2.0 ✓" in lines["better"] and "⚑ context" in lines["better"]
    assert "+0.5 ± 1.5" in lines["same"] and "✓" not in lines["same"] and lines["same"].rstrip().endswith("ok |")


def test_notes_say_which_rows_are_resolved_and_why_flags_remain():
    text = markdown_table(STUDY, _frame(), command="python -m archlab.study t")
    assert "this budget orders better against base" in text and "it cannot order same against base" in text
    assert "95% Student-t interval" in text and "seeds 0,1,2" in text
    assert "Smallest training size with nothing flagged: 48x48. Too dear to fix." in text


def test_nothing_resolved_is_said_plainly():
    frame = _frame()
    frame["miou_delta_resolved"] = False
    assert "Resolved**: none" in markdown_table(STUDY, frame, command="x")


def test_rows_compared_with_their_own_baselines():
    two = Study(name="t", title="T", base="small_rf_cnn",
                variants=(Variant("a0"), Variant("a1", baseline="a0"), Variant("b0"), Variant("b1", baseline="b0")))
    assert [two.baseline_of(v) for v in ("a0", "a1", "b0", "b1")] == ["a0", "a0", "b0", "b0"]
    frame = pd.concat([_frame()] * 2, ignore_index=True).iloc[[0, 1, 0, 2]].reset_index(drop=True)
    frame["variant"] = ["a0", "a1", "b0", "b1"]
    frame["params"] = [1000, 1500, 4000, 3000]
    text = markdown_table(two, frame, command="x")
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "| +0.000 |" in lines["a0"] and "| +0.001 |" in lines["a1"] and "| -0.001 |" in lines["b1"]
    assert "(baseline)" in lines["a0"] and "(baseline)" in lines["b0"] and "+3.0 ± 2.0 ✓" in lines["a1"]
    assert "Resolved** (against a0): this budget orders a1 against a0" in text
    assert "Resolved** (against b0): none" in text
    assert "Baselines**: every row is compared with its own network's original: a0 for a1; b0 for b1." in text


def test_a_variant_baseline_must_be_a_variant():
    import pytest

    from archlab.study import StudyError

    bad = Study(name="t", title="T", base="small_rf_cnn", variants=(Variant("a"), Variant("b", baseline="c")))
    with pytest.raises(StudyError, match="variant 'b'.*baseline 'c' is not a variant"):
        bad.check()
