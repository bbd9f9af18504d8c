"""The proxy correlation study: rank statistics, exclusions, caching/resume, report files, CLI errors."""
import math

import numpy as np
import pandas as pd
import pytest

import archlab
import archlab.train
from archlab.proxies import PROXIES, proxy_batch
from archlab.proxies import __main__ as cli
from archlab.proxies import correlation as corr
from archlab.transforms import scale_width

BUDGET = {"size": (32, 64), "steps": 2, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 4}


class ToySpace:
    """Two floors x three widths: six distinct tiny architectures."""

    name = "toy"
    train = BUDGET
    proxy = {"dataset": "synthstreets", "size": (32, 64), "batch": 2, "seed": 0}

    def sample(self, rng):
        return {"base": str(rng.choice(["color_mlp", "small_rf_cnn"])), "width": float(rng.choice([0.5, 1.0, 2.0]))}

    def spec(self, params):
        spec = archlab.get_spec(params["base"])
        return spec if params["width"] == 1.0 else scale_width(spec, params["width"])


def _frame(miou, status=None, **scores):
    n = len(miou)
    frame = pd.DataFrame({"sample": [f"s{i}" for i in range(n)], "spec_hash": [f"{i:016x}" for i in range(n)],
                          "miou": miou, "status": status or ["ok"] * n})
    for name in PROXIES:
        frame[name] = scores.get(name, np.arange(n, dtype=float))
    return frame


def test_identical_ranking_gives_one_and_reversed_gives_minus_one():
    miou = [0.10, 0.25, 0.20, 0.40, 0.35]
    table = corr.rank_correlations(_frame(miou, synflow=[10 * m for m in miou], naswot=[-m for m in miou]),
                                   bootstrap=200).set_index("proxy")
    assert table.loc["synflow", "rho"] == pytest.approx(1.0) and table.loc["synflow", "tau"] == pytest.approx(1.0)
    assert table.loc["naswot", "rho"] == pytest.approx(-1.0) and table.loc["naswot", "tau"] == pytest.approx(-1.0)
    assert table.loc["synflow", "rank"] == 1 and table.loc["naswot", "rank"] == len(PROXIES)   # signed, not |rho|
    # the default arange scores give the rank of 0..4 against miou's ranks 1,3,2,5,4
    assert table.loc["params", "rho"] == pytest.approx(0.8)
    assert table.loc["synflow", "beats_params"] > 0.5 and table.loc["naswot", "beats_params"] < 0.5


def test_infinite_scores_rank_at_the_ends_and_nan_scores_drop_one_architecture():
    miou = [0.1, 0.2, 0.3, 0.4, 0.5]
    frame = _frame(miou, synflow=[1.0, 2.0, 3.0, 4.0, math.inf], naswot=[-math.inf, 1.0, 2.0, 3.0, 4.0],
                   snip=[1.0, 2.0, math.nan, 4.0, 5.0])
    table = corr.rank_correlations(frame, bootstrap=100).set_index("proxy")
    assert table.loc["synflow", "rho"] == pytest.approx(1.0) and table.loc["synflow", "n_infinite"] == 1
    assert table.loc["naswot", "rho"] == pytest.approx(1.0)
    assert table.loc["snip", "n"] == 4 and table.loc["snip", "rho"] == pytest.approx(1.0)


def test_diverged_runs_are_excluded_not_counted_as_zero(tmp_path):
    miou = [0.1, 0.2, 0.3, 0.4, float("nan")]
    # the diverged row has the largest synflow: counted as mIoU 0 it would break the perfect ranking
    frame = _frame(miou, status=["ok"] * 4 + ["diverged"], synflow=[1.0, 2.0, 3.0, 4.0, 99.0])
    frame["failure"] = ["", "", "", "", "loss became nan at step 2"]
    table = corr.rank_correlations(frame, bootstrap=100).set_index("proxy")
    assert table.loc["synflow", "n"] == 4 and table.loc["synflow", "rho"] == pytest.approx(1.0)
    text = corr.markdown_report(frame, corr.rank_correlations(frame, bootstrap=100), settings={"space": "hand"},
                                command="hand-made")
    excluded = text.split("## Excluded")[1].split("##")[0]
    assert "s4" in excluded and "loss became nan" in excluded and "s0" not in excluded


def test_verdicts_say_when_a_baseline_ranks_better():
    miou = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    frame = _frame(miou, params=[1, 2, 3, 4, 5, 6], macs=[6, 5, 4, 3, 2, 1], synflow=[1, 3, 2, 4, 6, 5])
    lines = {line.split("**")[1]: line for line in corr.verdicts(corr.rank_correlations(frame, bootstrap=100))}
    assert "beaten by params" in lines["synflow"] and "beats macs" in lines["synflow"]


def test_sampling_is_distinct_deterministic_and_prefix_stable():
    specs, params = corr.sample_specs(ToySpace(), 4, seed=3)
    assert len({s.content_hash() for s in specs.values()}) == 4 and list(specs) == list(params)
    again, _ = corr.sample_specs(ToySpace(), 6, seed=3)
    assert list(again)[:4] == list(specs)
    with pytest.raises(ValueError, match="only 6 distinct"):
        corr.sample_specs(ToySpace(), 7, seed=0, max_draws=200)


@pytest.fixture(scope="module")
def batch():
    return proxy_batch("synthstreets", size=(32, 64), batch=2, seed=0)


def _count_training(monkeypatch, interrupt_at=None):
    calls, real = [], archlab.train.train

    def train(spec, *a, **k):
        calls.append(spec.content_hash())
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(spec, *a, **k)

    monkeypatch.setattr(archlab.train, "train", train)
    return calls


def test_correlate_caches_every_architecture_and_resumes_after_an_interruption(tmp_path, monkeypatch, batch):
    specs, params = corr.sample_specs(ToySpace(), 4, seed=0)
    kwargs = dict(runs_dir=tmp_path / "runs", meta=params, progress=False)
    calls = _count_training(monkeypatch, interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        corr.correlate(specs, BUDGET, *batch, tmp_path / "out", **kwargs)
    saved = pd.read_csv(tmp_path / "out" / "samples.csv")
    assert saved["miou"].notna().sum() == 2
    assert saved["synflow"].notna().sum() == 3          # the third was scored before its training was interrupted

    calls = _count_training(monkeypatch)
    frame = corr.correlate(specs, BUDGET, *batch, tmp_path / "out", **kwargs)
    assert len(calls) == 2 and len(frame) == 4 and frame["status"].eq("ok").all()

    calls = _count_training(monkeypatch)
    scored = []
    real_scores = corr._scores
    monkeypatch.setattr(corr, "_scores", lambda *a: scored.append(1) or real_scores(*a))
    again = corr.correlate(specs, BUDGET, *batch, tmp_path / "out", **kwargs)
    assert calls == [] and scored == []
    pd.testing.assert_frame_equal(again[list(PROXIES) + ["miou"]], frame[list(PROXIES) + ["miou"]])

    corr.correlate(specs, BUDGET, *batch, tmp_path / "out", force=True, **kwargs)
    assert len(calls) == 4 and len(scored) == 4


def test_cli_writes_the_report_with_baselines_settings_and_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_space", lambda name: ToySpace())
    out = tmp_path / "report"
    argv = ["correlate", "toy", "--samples", "4", "--out", str(out),
            "--runs-dir", str(tmp_path / "runs"), "--threads", "1"]
    assert cli.main(argv) == 0
    for name in ("correlation.md", "correlation.png", "correlation.csv", "samples.csv"):
        assert (out / name).is_file(), name
    text = (out / "correlation.md").read_text()
    assert "**params**" in text and "**macs**" in text and "## Proxies against the baselines" in text
    assert "python -m archlab.proxies correlate toy --samples 4" in text and "steps=2" in text
    assert "2 synthstreets train images at 32x64" in text
    assert len(pd.read_csv(out / "samples.csv")) == 4
    table = pd.read_csv(out / "correlation.csv")
    assert set(table["proxy"]) == set(PROXIES) and (table["n"] == 4).all()


@pytest.mark.parametrize("budget, names", [("stepz=3", "stepz"), ("size=32x", "size=32x"), ("steps=two", "steps")])
def test_cli_budget_errors_name_the_item(budget, names, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_space", lambda name: ToySpace())
    assert cli.main(["correlate", "toy", "--budget", budget, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and names in err and "\n" not in err


def test_cli_unknown_space_is_one_line_exit_2(tmp_path, capsys):
    pytest.importorskip("archlab.search.space")
    assert cli.main(["correlate", "no_such_space", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no_such_space" in err and "\n" not in err
