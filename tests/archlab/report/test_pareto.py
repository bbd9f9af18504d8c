import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from archlab.report.pareto import axis_unit, pareto_figure, pareto_mask, pareto_plot


def brute_force(x, y, minimize_x, maximize_y):
    a = np.where(np.isfinite(x), x if minimize_x else -x, np.nan)
    b = np.where(np.isfinite(y), -y if maximize_y else y, np.nan)
    out = []
    for i in range(len(a)):
        if np.isnan(a[i]) or np.isnan(b[i]):
            out.append(False)
            continue
        dominated = any(a[j] <= a[i] and b[j] <= b[i] and (a[j] < a[i] or b[j] < b[i])
                        for j in range(len(a)) if not (np.isnan(a[j]) or np.isnan(b[j])))
        out.append(not dominated)
    return np.array(out)


def test_front_of_hand_made_points():
    # cost x (lower better), accuracy y (higher better)
    x = [1, 2, 2, 3, 1.5, 4]
    y = [1, 2, 1, 3, 0.5, 2.5]
    assert pareto_mask(x, y).tolist() == [True, True, False, True, False, False]


def test_ties_duplicates_kept_and_equal_axis_decided_by_the_other():
    x = [1, 1, 1, 2, 3]
    y = [5, 5, 4, 5, 6]
    # the two (1, 5) are duplicates: both stay; (1, 4) loses on y at equal x; (2, 5) loses on x at equal y
    assert pareto_mask(x, y).tolist() == [True, True, False, False, True]


def test_nan_rows_are_never_on_the_front_and_dominate_nothing():
    x = [np.nan, 1.0, 2.0, 0.5]
    y = [100.0, 1.0, 2.0, np.nan]
    assert pareto_mask(x, y).tolist() == [False, True, True, False]
    assert not pareto_mask([np.nan], [np.nan]).any()
    assert pareto_mask([], []).shape == (0,)


@pytest.mark.parametrize("minimize_x,maximize_y,expected", [
    (True, True, [True, True, False, True]),      # (2,1) loses to (1,2); the others trade off
    (False, True, [False, False, False, True]),   # (3,3) beats everything on both
    (True, False, [True, False, False, False]),   # (0,0) beats everything on both
    (False, False, [True, False, True, True]),    # (1,2) loses to (2,1)
])
def test_each_direction_flag(minimize_x, maximize_y, expected):
    x = [0, 1, 2, 3]
    y = [0, 2, 1, 3]
    assert pareto_mask(x, y, minimize_x, maximize_y).tolist() == expected


def test_matches_brute_force_on_random_points_with_ties():
    rng = np.random.default_rng(0)
    for trial, (mx, my) in itertools.product(range(20), itertools.product([True, False], repeat=2)):
        x = rng.integers(0, 6, 30).astype(float)
        y = rng.integers(0, 6, 30).astype(float)
        x[rng.random(30) < 0.1] = np.nan
        assert np.array_equal(pareto_mask(x, y, mx, my), brute_force(x, y, mx, my)), (trial, mx, my)


def test_axis_titles_carry_units_and_scale():
    assert axis_unit("macs_fvcore") == ("GMACs (fvcore)", 1e-9)
    assert axis_unit("latency_ms_median") == ("latency (ms, median)", 1.0)
    assert axis_unit("fps") == ("FPS", 1.0)
    assert axis_unit("params") == ("parameters (M)", 1e-6)
    assert axis_unit("miou") == ("mIoU (%)", 100.0)
    assert axis_unit("published_gflops") == ("published GFLOPs", 1.0)
    assert axis_unit("published_miou_pct") == ("published mIoU (%)", 1.0)
    assert axis_unit("something_else") == ("something_else", 1.0)


def results():
    return pd.DataFrame({
        "variant": ["base", "slim", "wide", "bad", "nan"],
        "macs_fvcore": [4e9, 2e9, 8e9, 6e9, np.nan],
        "latency_ms_median": [40.0, 25.0, 70.0, 60.0, 10.0],
        "latency_ms_iqr": [2.0, 1.0, 3.0, 2.5, 1.0],
        "miou": [0.60, 0.52, 0.64, 0.55, 0.9],
        "published_gflops": [np.nan, np.nan, np.nan, np.nan, 13.8],
        "published_miou_pct": [np.nan, np.nan, np.nan, np.nan, 68.0],
    })


def test_figure_labels_front_in_x_order_and_greys_dominated():
    import matplotlib.pyplot as plt

    fig = pareto_figure(results(), "macs_fvcore", "miou", title="t", notes="CPU, 1 thread")
    ax = fig.axes[0]
    try:
        assert ax.front_labels == ["slim", "base", "wide"]
        assert ax.front_mask.tolist() == [True, True, True, False, False]
        drawn = {t.get_text() for t in ax.texts}
        assert {"slim", "base", "wide", "bad"} <= drawn and "nan" not in drawn   # 'nan' row has no x
        assert ax.get_xlabel() == "GMACs (fvcore)" and ax.get_ylabel() == "mIoU (%)"
        step = ax.lines[0]
        assert step.get_drawstyle() == "steps-post"
        assert np.allclose(step.get_xydata(), [[2, 52], [4, 60], [8, 64]])   # scaled to GMACs and %
    finally:
        plt.close(fig)


def test_maximised_x_steps_the_other_way_and_reference_goes_on_a_twin_axis():
    import matplotlib.pyplot as plt

    frame = results()
    frame["fps"] = 1000 / frame["latency_ms_median"]
    fig = pareto_figure(frame.iloc[:4], "fps", "miou", minimize_x=False, reference=frame.iloc[4:],
                        reference_x="published_gflops", reference_y="published_miou_pct",
                        reference_twin_y="published mIoU, Cityscapes val (%)")
    try:
        assert fig.axes[0].lines[0].get_drawstyle() == "steps-pre"
        assert fig.axes[0].front_labels == ["wide", "base", "slim"]
        twins = [a for a in fig.axes if a.get_ylabel() == "published mIoU, Cityscapes val (%)"]
        assert len(twins) == 1 and "nan" in {t.get_text() for t in twins[0].texts}
    finally:
        plt.close(fig)


def test_only_front_labelled_when_many_points():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"variant": [f"v{i}" for i in range(40)], "params": rng.uniform(1e5, 5e6, 40),
                          "miou": rng.uniform(0.3, 0.7, 40)})
    fig = pareto_figure(frame, "params", "miou")
    try:
        mask = pareto_mask(frame["params"], frame["miou"])
        assert {t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("v")} == \
            set(frame["variant"][mask])
        assert fig.axes[0].get_xlabel() == "parameters (M)"
    finally:
        plt.close(fig)


def test_plot_writes_a_png(tmp_path):
    path = pareto_plot(results(), "latency_ms_median", "miou", tmp_path / "sub" / "p.png", notes="n")
    assert path == tmp_path / "sub" / "p.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 800


def test_errors_name_the_column_and_list_the_others(tmp_path):
    with pytest.raises(ValueError, match=r"'latency'.*available columns: variant, macs_fvcore"):
        pareto_plot(results(), "latency", "miou", tmp_path / "p.png")
    with pytest.raises(ValueError, match="label column 'name'"):
        pareto_plot(results(), "macs_fvcore", "miou", tmp_path / "p.png", label="name")
    with pytest.raises(ValueError, match="no row has finite values"):
        pareto_plot(results(), "published_gflops", "macs_fvcore", tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()
