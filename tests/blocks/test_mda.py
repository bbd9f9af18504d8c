import pytest
import torch

from archlab.blocks.mda import MDA


def nparams(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("n", [192, 119, 63])
def test_mda_params_formula(n):
    h = n // 2
    bn_prelu = lambda c: 3 * c  # noqa: E731  (BN weight+bias, PReLU per channel)
    expected = (bn_prelu(n) + 9 * n * h + bn_prelu(h) + 9 * h * h + bn_prelu(h)
                + 3 * h * h + bn_prelu(h) + 3 * h * h + bn_prelu(h) + bn_prelu(h) + h * n)
    assert nparams(MDA(n, dilation=4)) == expected


def test_mda_is_residual_and_keeps_shape():
    m = MDA(16, dilation=8)
    x = torch.randn(1, 16, 20, 20)
    assert m(x).shape == x.shape
    torch.nn.init.zeros_(m.expand.weight)
    assert torch.equal(m(x), x)


def test_mda_three_modules_match_published_delta():
    # FASSD-Net Table I: +MDA adds 0.48M parameters over the baseline's three decoder stages
    assert sum(nparams(MDA(n)) for n in (192, 119, 63)) == pytest.approx(0.48e6, rel=0.01)


def test_mda_dilation_is_on_the_asymmetric_branch():
    m = MDA(16, dilation=4)
    assert m.dilated[0][0].dilation == (4, 1) and m.dilated[1][0].dilation == (1, 4)
    with pytest.raises(ValueError, match="dilation"):
        MDA(16, dilation=0)


def test_mda_batch_norms_use_the_authors_eps():
    # FASSD-Net's code builds every MDA BN as BatchNorm2d(n, eps=1e-3) (its BNPReLU)
    bns = [m for m in MDA(16).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 6 and all(m.eps == 1e-3 for m in bns)
