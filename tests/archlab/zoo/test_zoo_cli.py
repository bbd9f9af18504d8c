import pytest

from archlab.cli import parse_size
from archlab.zoo.__main__ import main


def test_listing_prints_every_model_and_writes_markdown(tmp_path, capsys):
    out = tmp_path / "zoo.md"
    assert main(["fassd_net", "fast_scnn", "--size", "256x512", "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fassd_net" in printed and "2.845" in printed
    text = out.read_text()
    assert "python -m archlab.zoo fassd_net fast_scnn --size 256x512" in text
    assert "| fassd_net | 2.845 | 2.85 |" in text


def test_blocks_listing(capsys):
    assert main(["--blocks"]) == 0
    assert "dapf" in capsys.readouterr().out


def test_bad_size_and_model_are_clear_errors(capsys):
    with pytest.raises(SystemExit):
        main(["--size", "abc"])
    assert "argument --size: 'abc' is not HxW" in capsys.readouterr().err
    assert main(["fasd_net", "--no-macs"]) == 2
    assert "Did you mean 'fassd_net'" in capsys.readouterr().out
    assert main(["dfanet_a", "--size", "100x100"]) == 2
    assert parse_size("8x16") == (8, 16)
