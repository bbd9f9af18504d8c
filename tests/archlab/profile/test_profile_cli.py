import json

import pandas as pd
import pytest

from archlab.profile.__main__ import main


def test_issue_command_fassd_net_counts(capsys):
    assert main(["fassd_net", "--size", "1024x2048", "--no-latency", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["macs_fvcore"] == pytest.approx(45.1e9, rel=0.02)
    # FASSD-Net's Table I: 45.1 G by ptflops (authors' opCounter.py). archlab's ptflops figure misses
    # its BatchNorm2d subclass and classifier (-0.36 G) and adds ptflops 0.7.5's functional wrappers
    # (+0.21 G): 44.96 G measured.
    assert record["macs_ptflops"] == pytest.approx(45.1e9, rel=0.01)
    assert record["params"] == pytest.approx(2.845e6, rel=0.01)
    assert "latency_ms_median" not in record and "peak_mem_mb" not in record  # counts only


def test_report_is_written_row_by_row_and_reused(tmp_path, capsys):
    prefix = tmp_path / "zoo"
    argv = ["fast_scnn", "--size", "64x128", "--warmup", "1", "--runs", "3", "--deploy", "both",
            "--report", str(prefix)]
    assert main(argv) == 0
    rows = pd.read_csv(prefix.with_suffix(".csv"))
    assert len(rows) == 2 and set(rows["fuse_bn"]) == {True, False}
    md = prefix.with_suffix(".md").read_text()
    assert "python -m archlab.profile fast_scnn --size 64x128" in md
    assert "fuse-bn+channels-last" in md and "×" in md  # the speed-up column
    assert "GMACs ptflops" in md and "macs_ptflops" in rows.columns
    assert main(argv) == 0  # a rerun reuses finished rows instead of measuring again
    again = pd.read_csv(prefix.with_suffix(".csv"))
    assert len(again) == 2 and list(again["date"]) == list(rows["date"])
    assert main(argv + ["--force"]) == 0  # re-measures and replaces, never duplicates
    forced = pd.read_csv(prefix.with_suffix(".csv"))
    assert len(forced) == 2


def test_cli_errors(capsys):
    with pytest.raises(SystemExit):
        main(["fast_scnn", "--dtype", "fp8"])
    with pytest.raises(SystemExit):
        main([])
    assert main(["fast_scnn", "--size", "100x100", "--no-latency"]) == 2
    assert "multiples of 32" in capsys.readouterr().err
