import pytest
import torch

from archlab.blocks.fast_scnn import FeatureFusion, InvertedResidual, InvertedResidualStage, LearningToDownsample


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def test_ltd_params_formula_and_stride():
    m = LearningToDownsample(3, [32, 48, 64])
    expected = (3 * 32 * 9 + 64) + (32 * 9 + 64 + 32 * 48 + 96) + (48 * 9 + 96 + 48 * 64 + 128)
    assert nparams(m) == expected
    assert m(torch.randn(1, 3, 64, 128)).shape == (1, 64, 8, 16)
    with pytest.raises(ValueError, match="three positive integers"):
        LearningToDownsample(3, [32, 48])


def test_inverted_residual():
    m = InvertedResidual(64, 64, 1, 6)
    assert m.residual
    assert nparams(m) == 64 * 384 + 768 + 384 * 9 + 768 + 384 * 64 + 128
    assert not InvertedResidual(64, 96, 2).residual
    assert InvertedResidualStage(64, 96, 3, 2)(torch.randn(1, 64, 16, 16)).shape == (1, 96, 8, 8)


def test_ffm_upsamples_low_branch_and_checks_depthwise_width():
    m = FeatureFusion((64, 128), 128)
    assert m(torch.randn(1, 64, 32, 64), torch.randn(1, 128, 8, 16)).shape == (1, 128, 32, 64)
    assert FeatureFusion((64, 128), 128, dilation=4).low[0][0].dilation == (4, 4)
    with pytest.raises(ValueError, match="multiple of 128"):
        FeatureFusion((64, 128), 96)


def test_ffm_bias_option_adds_one_bias_per_output_channel_to_each_1x1_conv():
    plain, biased = FeatureFusion((64, 128), 128), FeatureFusion((64, 128), 128, bias=True)
    assert nparams(biased) == nparams(plain) + 2 * 128
    assert plain.high[0].bias is None and biased.high[0].bias is not None and biased.low[1][0].bias is not None
    with pytest.raises(ValueError, match="bias"):
        FeatureFusion((64, 128), 128, bias=1)


def test_blocks_give_the_nchw_values_and_format():
    # computed channels-last on the CPU (much faster depthwise convs); same values up to rounding
    from torch import nn

    torch.manual_seed(0)
    ltd, stage = LearningToDownsample(3).eval(), InvertedResidualStage(64, 64, 2, 2).eval()
    ffm = FeatureFusion((64, 128), 128, bias=True).eval()
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        h = ltd(x)
        assert h.is_contiguous() and torch.equal(h, nn.Sequential.forward(ltd, x))
        s = stage(h)
        assert s.is_contiguous() and torch.allclose(s, nn.Sequential.forward(stage, h), rtol=1e-5, atol=1e-6)
        low = torch.randn(1, 128, 2, 4)
        f = ffm(h, low)
        plain = FeatureFusion.forward.__wrapped__(ffm, h, low)
        assert f.is_contiguous() and torch.allclose(f, plain, rtol=1e-5, atol=1e-6)
