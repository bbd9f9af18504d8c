"""``python -m archlab.train`` end to end, and its errors."""
import json

import pytest

from archlab.data.trees import write_camvid_tree
from archlab.train.__main__ import main


def test_cli_trains_writes_a_record_and_resumes_it(tmp_path, capsys):
    args = ["small_rf_cnn", "--size", "32x64", "--steps", "3", "--batch", "2", "--eval-length", "2",
            "--out", str(tmp_path / "run")]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "small_rf_cnn: mIoU" in first and "synthstreets val (2 images at 32x64)" in first
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["train_steps"] == 3 and (tmp_path / "run" / "checkpoint.pt").is_file()
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights_sha256"] == record["weights_sha256"]


def test_cli_trains_on_a_camvid_tree_with_11_classes(tmp_path, capsys):
    root = write_camvid_tree(tmp_path / "camvid", {"train": 2, "val": 2}, size=(36, 48))
    assert main(["color_mlp", "--data", "camvid", "--data-root", str(root), "--size", "32x48", "--steps", "2",
                 "--batch", "2", "--out", str(tmp_path / "run"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["miou_dataset"] == "camvid" and "iou_Bicyclist" in record and "iou_road" not in record


def test_cli_errors_are_one_line_naming_the_problem(tmp_path, capsys):
    assert main(["fast_scnn", "--data", "cityscapes"]) == 2
    assert "needs the dataset's root directory (--data-root PATH)" in capsys.readouterr().err
    assert main(["fast_scnn", "--data", "cityscapes", "--data-root", str(tmp_path / "nowhere")]) == 2
    assert str(tmp_path / "nowhere") in capsys.readouterr().err
    assert main(["fast_scn"]) == 2
    assert "Did you mean 'fast_scnn'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["small_rf_cnn", "--lr", "-1"])
    assert refused.value.code == 2 and "argument --lr: '-1' must be a finite number above 0" in capsys.readouterr().err


def test_cli_data_cache_keeps_rendered_scenes_and_changes_nothing(tmp_path, capsys):
    base = ["small_rf_cnn", "--size", "32x64", "--steps", "2", "--batch", "2", "--eval-length", "2", "--json"]
    assert main(base + ["--out", str(tmp_path / "a")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(base + ["--out", str(tmp_path / "b"), "--data-cache", str(tmp_path / "cache")]) == 0
    cached = json.loads(capsys.readouterr().out)
    assert cached["weights_sha256"] == plain["weights_sha256"]
    assert len(list((tmp_path / "cache").rglob("*.npz"))) >= 4
