import sys
from dataclasses import replace
from pathlib import Path

import pytest

import archlab.search.space
from archlab.search.__main__ import main

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import TINY  # noqa: E402


@pytest.mark.parametrize("argv, expected", [
    (["search_fasd"], ["no file studies/search_fasd.py", "Did you mean 'search_fassd'", "Search spaces: search_fassd"]),
    (["../search_fassd"], ["does not exist or is not a .py file"]),
    (["search_fassd", "--storage", "redis://host/0"], ["unknown storage URL scheme 'redis'", "journal:PATH",
                                                       "postgresql://"]),
    (["search_fassd", "--storage", "study.txt"], ["unknown storage 'study.txt'", "sqlite:///PATH"]),
    (["search_fassd", "--objective", "proxy:foo"], ["unknown objective 'proxy:foo'", "valid: miou, proxy:synflow",
                                                    "proxy:naswot"]),
    ([], ["give a search space name"]),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    for text in expected:
        assert text in err


def test_list(capsys):
    assert main(["--list"]) == 0
    assert capsys.readouterr().out.startswith("search_fassd")


def test_search_then_export_from_the_command_line(tmp_path, monkeypatch, capsys):
    space = replace(TINY, reference_study="fassd_variants", constraints={"params_M": 3.0})
    monkeypatch.setattr(archlab.search.space, "load_space", lambda name, check=True, studies_dirs=(): space)
    base = ["tiny_search", "--out", str(tmp_path), "--threads", "1"]
    assert main(base + ["--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "tiny_search: 2/2 trials in sqlite" in out and "this run finished 2" in out
    assert main(base + ["--trials", "3", "--export"]) == 0          # extends the study, then exports
    out = capsys.readouterr().out
    assert "3/3 trials" in out and "this run finished 1" in out
    for name in ("front.csv", "front.png", "hypervolume.csv", "hypervolume.png", "trials.csv"):
        assert (tmp_path / name).is_file()
    assert main(base + ["--objective", "proxy:synflow"]) == 2           # the study's settings are kept
    assert "other settings" in capsys.readouterr().err


def test_a_search_refused_for_a_missing_device_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    # --device cuda on a CPU machine once bound the study to cuda with trial 0 RUNNING, so the next
    # run without --device failed until study.db was deleted.
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is valid here")
    monkeypatch.setattr(archlab.search.space, "load_space", lambda name, check=True, studies_dirs=(): TINY)
    base = ["tiny_search", "--out", str(tmp_path), "--threads", "1", "--trials", "1"]
    with pytest.raises(SystemExit) as refused:
        main(base + ["--device", "cuda"])
    assert refused.value.code == 2 and "device 'cuda' is not available" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())                             # no study was created
    assert main(base) == 0
    assert "1/1 trials" in capsys.readouterr().out


@pytest.mark.parametrize("argv, expected", [
    (["search_fassd", "--fidelity", "sh"], ["--fidelity sh halves a training budget", "add --objective miou"]),
    (["search_fassd", "--eta", "3"], ["--eta only apply with --fidelity sh"]),
    (["search_fassd", "--objective", "miou", "--fidelity", "sh", "--eta", "1"], ["--eta 1 must be an integer >= 2"]),
    (["search_fassd", "--objective", "miou", "--fidelity", "sh", "--min-steps", "60"],
     ["--min-steps 60 must be a positive integer below the full budget of 60 steps"]),
    (["search_fassd", "--objective", "miou", "--fidelity", "sh", "--bracket", "2"], ["--bracket 2 must be an integer"]),
])
def test_fidelity_mistakes_are_one_line_errors(capsys, argv, expected, tmp_path):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    for text in expected:
        assert text in err
    assert not list(tmp_path.iterdir())                             # refused before a study was made


@pytest.mark.parametrize("devices, expected", [
    ("cpu:0,cuda:0", "mixes cpu and cuda"),
    ("gpu:0", "'gpu:0' is not a device; valid entries are cpu, cpu:N"),
    ("cpu:0,cpu:2", "'cpu:2': cpu slots are numbered 0..1"),
])
def test_bad_devices_are_refused_by_the_parser(capsys, devices, expected):
    with pytest.raises(SystemExit) as refused:
        main(["search_fassd", "--devices", devices])
    assert refused.value.code == 2 and expected in capsys.readouterr().err
