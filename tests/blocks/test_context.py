"""PPM, ASPP and DAPF: shapes and parameter counts against hand formulas."""
import pytest
import torch

from archlab.blocks.context import ASPP, DAPF, PyramidPooling


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def cba(cin, cout, k=1):  # conv (no bias) + BN
    return cin * cout * k + 2 * cout


@pytest.mark.parametrize("alpha", [1, 2, 4, 8])
def test_dapf_params_formula(alpha):
    c = 224
    mid = c // alpha
    expected = cba(c, mid) + 3 * (cba(c, mid, 3) + cba(mid, mid, 3)) + cba(4 * mid, c)
    m = DAPF(c, alpha=alpha)
    assert nparams(m) == expected
    assert m(torch.randn(1, c, 8, 16)).shape == (1, c, 8, 16)


def test_dapf_published_delta():
    # FASSD-Net Table I: +DAPF adds 0.46M parameters at alpha 2 on 224 channels
    assert nparams(DAPF(224)) == pytest.approx(0.46e6, rel=0.02)


def test_dapf_dilations_are_asymmetric():
    m = DAPF(32, dilations=[12, 24, 36])
    dil = [(b[0][0].dilation, b[1][0].dilation) for b in m.branches[1:]]
    assert dil == [((12, 1), (1, 12)), ((24, 1), (1, 24)), ((36, 1), (1, 36))]


def test_aspp_params_formula_and_published_delta():
    c, mid = 224, 256
    expected = cba(c, mid) + 3 * cba(c, mid, 9) + cba(c, mid) + cba(5 * mid, c)
    m = ASPP(c)
    assert nparams(m) == expected
    assert nparams(m) == pytest.approx(1.95e6, rel=0.01)  # FASSD-Net Table I: +ASPP adds 1.95M
    assert m(torch.randn(2, c, 8, 16)).shape == (2, c, 8, 16)


def test_ppm_params_formula():
    c = 128
    expected = 4 * cba(c, c // 4) + cba(2 * c, c)
    m = PyramidPooling(c)
    assert nparams(m) == expected
    assert m(torch.randn(2, c, 12, 24)).shape == (2, c, 12, 24)


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha=0 must be a number"):
        DAPF(32, alpha=0)
    with pytest.raises(ValueError, match="rates"):
        ASPP(32, rates=[])
    with pytest.raises(ValueError, match="bins"):
        PyramidPooling(32, bins=[0])
