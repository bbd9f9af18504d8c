"""Latency of every registered block alone at a typical feature-map size (archlab.bench.cases)."""
import pytest

import archlab
from archlab.bench import block_case

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("name", [row["name"] for row in archlab.list_blocks()])
def test_block_forward(bench_block, benchmark, name):
    out = bench_block(name, group="block")
    outs = out if isinstance(out, (tuple, list)) else (out,)
    assert all(o.shape[0] == 1 for o in outs)
    assert benchmark.extra_info["block"] == name == block_case(name).block
