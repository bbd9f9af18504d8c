import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archlab.search.export import export, reference_points
from archlab.search.objective import Evaluator, Objectives
from archlab.search.runner import SearchSettings, run_search
from archlab.spec import Spec

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import TINY  # noqa: E402

# FASSD-Net fits 64x128 and 3 M parameters; FASSD-Net-L2 needs at least 192x384 (stride 3, then 2, in its stem)
SPACE = replace(TINY, reference_study="fassd_variants", constraints={"params_M": 3.0})


def test_reference_points_are_measured_once_and_misfits_left_out(tmp_path, monkeypatch):
    objectives = Objectives.from_space(SPACE)
    frame, notes = reference_points(SPACE, objectives, tmp_path, threads=1)
    # FASSD-Net-L2 as the authors build it (stem strides 2, 2, 2, 1) runs at the search's sizes too.
    assert frame["variant"].tolist() == ["FASSD-Net", "FASSD-Net-L1", "FASSD-Net-L2"] and notes == []
    row = frame.iloc[0]
    assert row["feasible"] and row["macs_fvcore"] > 0 and row["proxy_params"] == row["params"]

    def measure_again(*args, **kwargs):
        raise AssertionError("a cached reference point was measured again")

    monkeypatch.setattr(Evaluator, "evaluate", measure_again)
    again, _ = reference_points(SPACE, objectives, tmp_path)
    assert again["macs_fvcore"].tolist() == frame["macs_fvcore"].tolist()
    with pytest.raises(AssertionError, match="measured again"):      # other settings: measured anew
        reference_points(SPACE, Objectives.from_space(SPACE, accuracy="proxy:synflow"), tmp_path)


def test_export_writes_the_front_and_the_hypervolume(tmp_path):
    run_search(SPACE, SearchSettings(trials=4, out=tmp_path, progress=False, threads=1))
    written = export(SPACE, out=tmp_path, command="pytest", threads=1)
    assert {p.name for p in written} == {"trials.csv", "front.csv", "front.png", "hypervolume.csv", "hypervolume.png"}
    trials = pd.read_csv(tmp_path / "trials.csv")
    front = pd.read_csv(tmp_path / "front.csv")
    assert len(trials) == 4 and len(front) >= 1 and front["feasible"].all()
    ok = trials[trials["feasible"]]
    for _, f in front.iterrows():          # no feasible trial beats a front point on both axes
        better = (ok["macs_fvcore"] <= f["macs_fvcore"]) & (ok["proxy_params"] >= f["proxy_params"]) & (
            (ok["macs_fvcore"] < f["macs_fvcore"]) | (ok["proxy_params"] > f["proxy_params"]))
        assert not better.any()
        assert Spec.from_json(f["spec_json"]).content_hash() == f["spec_hash"]
    hv = pd.read_csv(tmp_path / "hypervolume.csv")
    assert hv["number"].tolist() == [0, 1, 2, 3]
    assert np.all(np.diff(hv["hypervolume"]) >= 0) and hv["hypervolume"].iloc[-1] > 0
    assert hv["reference_hypervolume"].nunique() == 1 and math.isfinite(hv["reference_hypervolume"].iloc[0])
    assert (tmp_path / "reference.csv").is_file()


def test_export_without_a_study_says_so(tmp_path):
    from archlab.search.space import SearchError

    with pytest.raises(SearchError, match="no study 'tiny_search'.*run the search first"):
        export(SPACE, out=tmp_path)
