"""Peak memory of one forward: a real CPU measurement that scales with the input, its method named."""
import pytest
import torch
from torch import nn

import archlab
from archlab.profile.memory import MIB, peak_memory, peak_of_running_sum


def test_running_sum_peak():
    assert peak_of_running_sum([8, 4, 4_000_000, -4, -8, 8, -4_000_000]) == 4_000_012
    assert peak_of_running_sum([-5, 3]) == 0
    assert peak_of_running_sum([]) == 0


def test_cpu_peak_is_at_least_the_tensors_a_forward_must_hold():
    class TwoAlive(nn.Module):
        def forward(self, x):
            y = x * 2  # 4 MB
            z = y + 1  # 4 MB, y still alive
            return z.sum()

    peak, method = peak_memory(TwoAlive(), torch.randn(1000, 1000))
    assert 2 * 4e6 / MIB <= peak < 3 * 4e6 / MIB
    assert "torch.profiler" in method and "MiB" in method


def test_cpu_peak_grows_with_the_input():
    model = archlab.create_model("fast_scnn").eval()
    small, method = peak_memory(model, torch.randn(1, 3, 64, 128))
    large, _ = peak_memory(model, torch.randn(1, 3, 128, 256))
    assert small > 0 and large > 2 * small  # ~4x when both sides double
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 128, 256))
    assert large >= out.numel() * out.element_size() / MIB  # at least the output it returns
    assert "cpu allocator" in method


def test_bad_input_is_clear():
    with pytest.raises(ValueError, match="must be a torch.Tensor"):
        peak_memory(nn.Identity(), [1, 2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_uses_the_allocator():
    model = archlab.create_model("fast_scnn").eval().cuda()
    peak, method = peak_memory(model, torch.randn(1, 3, 128, 256, device="cuda"))
    assert peak > 19 * 128 * 256 * 4 / MIB and "max_memory_allocated" in method
