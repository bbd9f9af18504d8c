"""The per-input reduce-and-sum block of DFANet's decoder (blocks/aggregation.py)."""
import pytest
import torch

from archlab.blocks.aggregation import ReduceSum
from archlab.blocks.glue import resize


def test_reduce_sum_shapes_params_and_value():
    m = ReduceSum((48, 240, 16), out_channels=32, size_from=0).eval()
    xs = [torch.randn(1, 48, 32, 64), torch.randn(1, 240, 16, 32), torch.randn(1, 16, 8, 16)]
    with torch.no_grad():
        y = m(*xs)
        expected = sum(resize(conv(x), (32, 64)) for conv, x in zip(m.reduce, xs))
    assert y.shape == (1, 32, 32, 64)
    assert torch.allclose(y, expected, atol=1e-6)
    # one 1x1 conv (no bias) + BN per input
    assert sum(p.numel() for p in m.parameters()) == sum(c * 32 + 2 * 32 for c in (48, 240, 16))
    assert (m.out_channels, m.stride_ref, m.stride) == (32, 0, 1)


def test_reduce_sum_size_from_and_errors():
    m = ReduceSum((8, 8), out_channels=8, size_from=-1)
    assert m.stride_ref == 1
    assert m(torch.randn(1, 8, 16, 16), torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)
    with pytest.raises(ValueError, match="size_from=2 must index one of the 2 inputs"):
        ReduceSum((8, 8), size_from=2)
    with pytest.raises(ValueError, match="mode='cubic' is not a resize mode"):
        ReduceSum((8,), mode="cubic")
