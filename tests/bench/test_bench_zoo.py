"""Forward latency of every zoo model (backbones included) at 1x3x256x512, batch 1."""
import pytest

import archlab
from archlab.bench import ZOO_INPUT_SIZE

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("name", archlab.list_models(kind=None))
def test_zoo_forward(bench_spec, name):
    out = bench_spec(name, ZOO_INPUT_SIZE, group="zoo")
    assert out.shape[0] == ZOO_INPUT_SIZE[0] and out.ndim == 4
