import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import archlab
from archlab.report.breakdown import OTHER, breakdown_plot, group_other, node_colours, node_order, small_nodes


def test_small_nodes_must_be_small_in_every_variant():
    a = pd.Series({"stem": 50.0, "enc": 45.0, "up": 2.0, "cls": 3.0})       # up 2%, cls 3%
    b = pd.Series({"stem": 60.0, "enc": 20.0, "up": 19.0, "head": 1.0})     # up 19%, head 1%
    values = {"a": a, "b": b}
    assert node_order(values) == ["stem", "enc", "up", "cls", "head"]
    small = small_nodes(values, threshold=0.03)
    assert small == {"head"}                  # up is large in b; cls is exactly 3% in a (kept)
    grouped = group_other(values, small | {"cls"})
    assert list(grouped["a"].index) == ["stem", "enc", "up", OTHER] and grouped["a"][OTHER] == 3.0
    assert list(grouped["b"].index) == ["stem", "enc", "up", OTHER] and grouped["b"][OTHER] == 1.0
    assert grouped["a"].sum() == a.sum() and grouped["b"].sum() == b.sum()
    assert OTHER not in group_other(values, set())["a"].index


def test_colours_follow_the_node_id_and_other_is_grey():
    colours = node_colours(["stem", "enc", OTHER, "cls"])
    assert len({colours[n] for n in ("stem", "enc", "cls")}) == 3
    r, g, b, _ = colours[OTHER]
    assert r == g == b
    assert node_colours(["stem", "enc"])["enc"] == colours["enc"]


@pytest.fixture(scope="module")
def profiles():
    tables = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # noisy-latency warnings at these tiny sizes
        for name in ("fast_scnn", "small_rf_cnn"):
            tables[name] = archlab.profile(name, (1, 3, 64, 128), breakdown=True, runs=3, warmup=1, threads=1,
                                           memory=False).per_node
    return tables


def test_plot_of_two_real_profiles(tmp_path, profiles):
    assert {"macs_fvcore", "latency_ms"} <= set(profiles["fast_scnn"].columns)
    path = breakdown_plot(profiles, tmp_path / "b.png", title="per node", notes="CPU, 1 thread")
    counts_only = {name: table.drop(columns=["latency_share", "latency_ms"]) for name, table in profiles.items()}
    narrow = breakdown_plot(counts_only, tmp_path / "c.png")
    with Image.open(path) as both, Image.open(narrow) as one:
        assert both.format == "PNG"
        assert one.size[0] < both.size[0] - 300          # the latency panel is left out
        colours = {tuple(c) for c in np.unique(np.asarray(both.convert("RGB")).reshape(-1, 3), axis=0)}
    ltd = tuple(int(round(255 * v)) for v in node_colours(["ltd"])["ltd"][:3])
    assert ltd in colours                                   # fast_scnn's first node is drawn in its colour


def test_csv_round_trip_table_and_a_missing_counter(tmp_path, profiles):
    table = profiles["fast_scnn"].reset_index()             # 'node' as a column, as read back from a CSV
    assert breakdown_plot({"fast_scnn": table}, tmp_path / "d.png").exists()
    with pytest.raises(ValueError, match="no 'macs_bogus' column; available columns: .*macs_fvcore"):
        breakdown_plot({"fast_scnn": table}, tmp_path / "e.png", macs="macs_bogus")
