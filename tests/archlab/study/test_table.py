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
