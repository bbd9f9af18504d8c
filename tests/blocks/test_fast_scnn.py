import pytest
import torch

from blocks.fast_scnn import FeatureFusion, InvertedResidual, InvertedResidualStage, LearningToDownsample


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
