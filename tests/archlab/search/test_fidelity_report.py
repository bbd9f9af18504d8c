import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import archlab.search.space
from archlab.profile.record import cpu_name
from archlab.search.fidelity_report import main

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import TRAINED  # noqa: E402

SPACE = replace(TRAINED, reference_study=None)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setattr(archlab.search.space, "load_space", lambda name, check=True, studies_dirs=(): SPACE)
    return ["tiny_search", "--out", str(tmp_path / "out"), "--runs-dir", str(tmp_path / "runs"), "--threads", "1",
            "--trials", "3", "--steps", "9", "--min-steps", "1", "--eta", "3"]


def test_the_report_compares_both_arms_on_full_budget_figures_and_a_rerun_reuses_them(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(tiny) == 0
    printed = capsys.readouterr().out
    assert "full: 3 sampled points, 3 trials complete, 3 at the full budget; this run finished 3" in printed
    assert "sh: 3 sampled points, 5 trials complete, 1 at the full budget; this run finished 5" in printed  # 3, 1, 1
    for name in ("report.md", "hypervolume_vs_cpu_hours.csv", "hypervolume_vs_cpu_hours.png", "fronts.png",
                 "front_full.csv", "front_sh.csv", "full/study.db", "sh/study.db"):
        assert (out / name).is_file(), name
    curve = pd.read_csv(out / "hypervolume_vs_cpu_hours.csv")
    assert curve.groupby("arm").size().to_dict() == {"full": 3, "sh": 5}
    for arm, part in curve.groupby("arm"):
        assert np.all(np.diff(part["cpu_hours"]) >= 0) and np.all(np.diff(part["hypervolume"]) >= 0)
        assert part["cpu_hours"].iloc[-1] == pytest.approx(part["trial_cpu_s"].sum() / 3600)
        gains = part["hypervolume"].diff().fillna(part["hypervolume"].iloc[0])
        assert (gains[~part["final"]] == 0).all()                  # lower rungs never add hypervolume
        assert (part.loc[part["copied"], "trial_cpu_s"] == 0).all()
    assert curve["hypervolume"].between(0, 1.1 * 1.1).all()
    sh = curve[curve["arm"] == "sh"]
    assert sorted(sh["rung_steps"]) == [1, 1, 1, 3, 9] and sh["steps_trained"].sum() <= 3 * 1 + 2 + 6
    # the full-budget arm trains every point 9 steps (a point drawn twice is copied and trains nothing)
    full = curve[curve["arm"] == "full"]
    assert set(full.loc[~full["copied"], "steps_trained"]) == {9}

    report = (out / "report.md").read_text()
    for text in ("python -m archlab.search.fidelity_report tiny_search", cpu_name(), "torch ", "rungs 1, 3, 9 steps",
                 "B = 9 steps", "sampler seed 0", "| full budget (every point trains B steps) | 3 | 3 |"):
        assert text in report, text
    last = curve.groupby("arm")["hypervolume"].last()
    assert f"reached a hypervolume of {last['sh']:.3f}" in report
    assert f"and {last['full']:.3f} at its end" in report

    assert main(tiny) == 0                                       # the rerun measures nothing and writes the same
    assert "this run finished 0" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(out / "hypervolume_vs_cpu_hours.csv"), curve)


@pytest.mark.parametrize("extra, message", [
    (["--eta", "1"], "--eta 1 must be an integer >= 2"),
    (["--min-steps", "9"], "--min-steps 9 must be a positive integer below the full budget of 9 steps"),
    (["--bracket", "2"], "--bracket 2 must be an integer >= --eta"),
])
def test_bad_options_are_one_line_errors_before_any_work(tiny, tmp_path, capsys, extra, message):
    assert main(tiny + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not (tmp_path / "out" / "full").exists()
