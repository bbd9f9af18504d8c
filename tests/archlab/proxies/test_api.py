"""archlab.proxies: every proxy on zoo models, determinism, untouched callers, the fixed batch."""
import math

import pytest
import torch

import archlab
from archlab import proxies

SIZE = (32, 64)


@pytest.fixture(scope="module")
def batch():
    return proxies.proxy_batch(size=SIZE, batch=4)


@pytest.mark.parametrize("name,knobs", [("fast_scnn", {"width": 0.5}), ("fassd_net", {"width": 0.5}),
                                        ("color_mlp", {}), ("small_rf_cnn", {})])
def test_every_proxy_is_finite_on_zoo_and_floor_models(batch, name, knobs):
    scores = proxies.score_all(archlab.get_spec(name, **knobs), *batch)
    assert list(scores) == list(proxies.PROXIES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), scores
    assert scores["params"] > 0 and scores["macs"] > 0 and scores["grad_norm"] > 0 and scores["snip"] > 0


def test_score_all_matches_score_and_is_deterministic(batch):
    spec = archlab.get_spec("small_rf_cnn")
    scores = proxies.score_all(spec, *batch, seed=3)
    assert scores == {name: proxies.score(name, spec, *batch, seed=3) for name in proxies.PROXIES}
    other = proxies.score_all(spec, *batch, names=("synflow", "naswot", "grad_norm"), seed=4)
    assert all(other[k] != scores[k] for k in other)  # the seed picks the initialisation


def test_caller_module_and_rng_untouched(batch):
    model = archlab.build(archlab.get_spec("fast_scnn", width=0.5)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    first = proxies.score_all(model, *batch)
    assert proxies.score_all(model, *batch) == first
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)


def test_params_and_synflow_grow_with_width(batch):
    half = proxies.score_all(archlab.get_spec("fast_scnn", width=0.5), *batch, names=("params", "synflow"))
    full = proxies.score_all(archlab.get_spec("fast_scnn", width=1.0), *batch, names=("params", "synflow"))
    assert full["params"] > 2 * half["params"] and full["synflow"] > half["synflow"]


def test_proxy_batch_is_fixed(batch):
    images, labels = batch
    assert images.shape == (4, 3, *SIZE) and images.dtype == torch.float32
    assert labels.shape == (4, *SIZE) and labels.dtype == torch.int64
    again = proxies.proxy_batch(size=SIZE, batch=4)
    assert torch.equal(again[0], images) and torch.equal(again[1], labels)
    assert not torch.equal(proxies.proxy_batch(size=SIZE, batch=4, seed=1)[0], images)


def test_errors(batch):
    spec = archlab.get_spec("color_mlp")
    with pytest.raises(ValueError, match="valid: synflow, naswot, grad_norm, snip, params, macs"):
        proxies.score("zen", spec, *batch)
    with pytest.raises(ValueError, match="valid"):
        proxies.score_all(spec, *batch, names=("params", "jacov"))
    with pytest.raises(ValueError, match="archlab.Spec"):
        proxies.score("params", "fast_scnn", *batch)
    with pytest.raises(ValueError, match="need labels"):
        proxies.score("snip", spec, batch[0])
    with pytest.raises(ValueError, match="batch"):
        proxies.proxy_batch(batch=0)
