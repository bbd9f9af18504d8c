import pytest
import torch

from archlab.blocks.conv import AsymmetricConv, ConvBNAct, DepthwiseSeparableConv, PooledBatchNorm2d


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def test_conv_bn_act_shapes_and_params():
    m = ConvBNAct(16, 32, 3, stride=2)
    assert m(torch.randn(1, 16, 32, 32)).shape == (1, 32, 16, 16)
    assert nparams(m) == 16 * 32 * 9 + 2 * 32
    assert ConvBNAct(10, out_ratio=0.5).out_channels == 5
    assert nparams(ConvBNAct(4, 6, 1, norm=False, act="none")) == 4 * 6 + 6


def test_conv_bn_act_errors_say_what_is_valid():
    with pytest.raises(ValueError, match="act='gelu' is not an activation; valid: relu"):
        ConvBNAct(4, 4, act="gelu")
    with pytest.raises(ValueError, match="groups=3 must divide"):
        ConvBNAct(4, 4, groups=3)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvBNAct(4, 4, kernel_size="3")


def test_depthwise_separable():
    m = DepthwiseSeparableConv(32, 48, stride=2)
    assert m(torch.randn(1, 32, 16, 16)).shape == (1, 48, 8, 8)
    assert nparams(m) == 32 * 9 + 2 * 32 + 32 * 48 + 2 * 48


@pytest.mark.parametrize("dilation", [1, 4, 12])
def test_dilated_asymmetric_conv_keeps_size_and_has_3k_weights(dilation):
    m = AsymmetricConv(8, 6, 3, dilation=dilation)
    assert m(torch.randn(1, 8, 40, 40)).shape == (1, 6, 40, 40)
    assert nparams(m) == 8 * 6 * 3 + 6 * 6 * 3 + 4 * 6
    assert m[0][0].dilation == (dilation, 1) and m[1][0].dilation == (1, dilation)


def test_pooled_batchnorm_falls_back_to_running_stats_on_single_values():
    bn = PooledBatchNorm2d(4).train()
    x = torch.randn(1, 4, 1, 1)
    assert torch.allclose(bn(x), x / (1 + bn.eps) ** 0.5, atol=1e-6)
    assert bn(torch.randn(2, 4, 3, 3)).shape == (2, 4, 3, 3)


def test_only_pooled_branches_use_the_fallback_and_train_at_batch_1():
    # Everywhere else archlab's BN is nn.BatchNorm2d itself, as in the authors' code, so counters
    # that match exact types (thop, ptflops) count it; the pooled branches still train at batch 1.
    from archlab.blocks.context import ASPP, PyramidPooling

    assert type(ConvBNAct(4, 4)[1]) is torch.nn.BatchNorm2d
    for block in (ASPP(8, mid_channels=8), PyramidPooling(8)):
        block.train()(torch.randn(1, 8, 6, 6)).sum().backward()


def test_cpu_channels_last_computes_in_channels_last_and_returns_the_input_format():
    from archlab.blocks.conv import cpu_channels_last

    seen = []

    class Probe(torch.nn.Module):
        @cpu_channels_last
        def forward(self, a, b):
            seen.append((a.is_contiguous(memory_format=torch.channels_last), b.is_contiguous(memory_format=torch.channels_last)))
            return a + 1, b * 2

    probe = Probe()
    a, b = torch.randn(1, 4, 6, 8), torch.randn(1, 4, 3, 4)
    out = probe(a, b)
    assert seen[-1] == (True, True)
    assert all(o.is_contiguous() for o in out)
    assert torch.equal(out[0], a + 1) and torch.equal(out[1], b * 2)
    # channels-last inputs (a channels-last deploy) and meta tensors pass through as they are
    cl = probe(a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last))
    assert cl[0].is_contiguous(memory_format=torch.channels_last)
    probe(torch.empty(1, 4, 6, 8, device="meta"), torch.empty(1, 4, 3, 4, device="meta"))
    assert seen[-1] == (False, False)
