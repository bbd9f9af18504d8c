"""The trainer-throughput report (archlab/bench/training.py) on a tiny model."""
from archlab.bench import training


def test_report_compares_trainer_and_bare_loop(tmp_path):
    code = training.main(["fast_scnn", "--size", "64x128", "--batch", "2", "--steps", "2", "--rounds", "2",
                          "--threads", "1", "--out", str(tmp_path)])
    assert code == 0
    text = (tmp_path / "throughput.md").read_text()
    assert "| fast_scnn |" in text and "python -m archlab.bench.training fast_scnn" in text
    import pandas as pd

    row = pd.read_csv(tmp_path / "throughput.csv").iloc[0]
    assert row["trainer_images_per_s"] > 0 and row["bare_images_per_s"] > 0 and row["rounds"] == 2
    assert row["ratio"] == row["ratio"] and row["ratio_p25"] <= row["ratio"] <= row["ratio_p75"]


def test_unknown_model_is_refused(capsys):
    assert training.main(["no_such_net"]) == 2
    assert "unknown model" in capsys.readouterr().err
