import numpy as np
import pandas as pd
import pytest
from PIL import Image

from archlab.pareto import main


@pytest.fixture
def results(tmp_path):
    frame = pd.DataFrame({
        "variant": ["base", "slim", "wide", "bad"],
        "latency_ms_median": [40.0, 25.0, 70.0, 60.0],
        "miou": [0.60, 0.52, 0.64, 0.55],
        "published_gflops": [45.1, np.nan, np.nan, 13.8],
        "published_miou_pct": [76.9, np.nan, 70.0, 68.0],
    })
    path = tmp_path / "width.csv"
    frame.to_csv(path, index=False)
    return path


def test_front_printed_plot_and_front_csv(tmp_path, results, capsys):
    front_csv = tmp_path / "out" / "front.csv"
    assert main([str(results), "--x", "latency_ms_median", "--y", "miou", "--front-csv", str(front_csv)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front of 3 / 4 rows" in out
    assert out.index("slim") < out.index("base") < out.index("wide") and "bad" not in out
    png = tmp_path / "width_pareto_latency_ms_median_miou.png"
    with Image.open(png) as image:
        assert image.format == "PNG"
    front = pd.read_csv(front_csv)
    assert front.columns.tolist() == ["variant", "latency_ms_median", "miou"]
    assert front["variant"].tolist() == ["slim", "base", "wide"]


def test_maximize_x_and_reference_columns(tmp_path, results, capsys):
    frame = pd.read_csv(results).assign(fps=lambda f: 1000 / f["latency_ms_median"])
    frame.to_csv(results, index=False)
    out_png = tmp_path / "fps.png"
    assert main([str(results), "--x", "fps", "--y", "miou", "--maximize-x", "--out", str(out_png),
                 "--ref-x", "published_gflops", "--ref-y", "published_miou_pct",
                 "--ref-twin", "published mIoU (%)", "--title", "t", "--notes", "CPU"]) == 0
    assert out_png.exists()
    assert "max fps, max miou" in capsys.readouterr().out


def test_two_csvs_are_joined_with_a_source_column(tmp_path, results, capsys):
    other = tmp_path / "depth.csv"
    pd.DataFrame({"variant": ["base", "deep"], "latency_ms_median": [20.0, 90.0],
                  "miou": [0.61, 0.70]}).to_csv(other, index=False)
    front_csv = tmp_path / "front.csv"
    assert main([str(results), str(other), "--x", "latency_ms_median", "--y", "miou",
                 "--front-csv", str(front_csv)]) == 0
    front = pd.read_csv(front_csv)
    assert front.columns.tolist() == ["variant", "source", "latency_ms_median", "miou"]
    # 'base' is in both files, so it is told apart by its file stem; depth's base beats width's slim and base
    assert front["variant"].tolist() == ["base [depth]", "wide", "deep"]
    assert front["source"].tolist() == ["depth", "width", "depth"]
    assert (tmp_path / "width_pareto_latency_ms_median_miou.png").exists()


def test_unknown_column_names_it_and_lists_the_others(results, capsys):
    assert main([str(results), "--x", "latency", "--y", "miou"]) == 2
    err = capsys.readouterr().err
    assert "--x 'latency' is not a column" in err
    assert "available columns: variant, latency_ms_median, miou" in err
    assert main([str(results), "--x", "latency_ms_median", "--y", "miou", "--label", "model"]) == 2
    assert "--label 'model'" in capsys.readouterr().err


def test_missing_file_is_one_line(tmp_path, results, capsys):
    missing = tmp_path / "nope.csv"
    assert main([str(results), str(missing), "--x", "latency_ms_median", "--y", "miou"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {missing}: no such file"


def test_ref_x_without_ref_y_is_a_usage_error(results):
    with pytest.raises(SystemExit) as exit_info:
        main([str(results), "--x", "latency_ms_median", "--y", "miou", "--ref-x", "published_gflops"])
    assert exit_info.value.code == 2
