"""``python -m archlab.evaluate CHECKPOINT`` re-evaluates a run to the same mIoU and draws the figure."""
import json

import pytest

from archlab.evaluate import main
from archlab.train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    record = train("small_rf_cnn", out=out, progress=False, size=(32, 64), steps=4, batch=2, warmup_steps=1,
                   train_length=8, eval_length=6)
    return out, record


def test_evaluate_reproduces_the_training_record(run, capsys, tmp_path):
    out, record = run
    assert main([str(out / "checkpoint.pt"), "--length", "6", "--json", "--figure", str(tmp_path / "q.png"),
                 "--show", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["miou"] == pytest.approx(record["miou"], abs=1e-12) and result["step"] == 4
    assert result["iou_road"] == pytest.approx(record["iou_road"], abs=1e-12)
    assert (tmp_path / "q.png").stat().st_size > 5000


def test_evaluate_on_another_split_and_directory_argument(run, capsys):
    out, _ = run
    assert main([str(out), "--split", "test", "--length", "3"]) == 0
    assert "synthstreets test (3 images at 32x64)" in capsys.readouterr().out


def test_evaluate_errors_name_the_file(tmp_path, capsys):
    assert main([str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    assert main([str(tmp_path / "junk.pt")]) == 2
    assert "is not a readable archlab checkpoint" in capsys.readouterr().err
