"""NASWOT: hand-computed kernels, singular codes, exact determinants and what gets hooked."""
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from archlab.proxies.naswot import agreement, int_det, kernel, naswot


def _identity_relu(act=None):
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(2))
    return nn.Sequential(lin, act if act is not None else nn.ReLU())


def test_kernel_and_score_by_hand():
    # Codes [1,0], [0,1], [1,1]; N_A = 2: K = [[2,0,1],[0,2,1],[1,1,2]], det = 2*3 - 0 + 1*(0 - 2) = 4.
    x = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert kernel(_identity_relu(), x).tolist() == [[2, 0, 1], [0, 2, 1], [1, 1, 2]]
    assert naswot(_identity_relu(), x) == pytest.approx(math.log(4))


def test_identical_codes_make_k_singular_and_score_minus_inf():
    x = torch.tensor([[1.0, -1.0], [2.0, -3.0], [-1.0, 1.0]])  # first two images: code [1, 0]
    assert naswot(_identity_relu(), x) == -math.inf
    assert naswot(_identity_relu(), torch.tensor([[1.0, -1.0], [-1.0, 1.0]])) == pytest.approx(math.log(4))


@pytest.mark.parametrize("act", [nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ReLU6(), nn.PReLU(2)])
def test_every_rectifier_is_hooked_on_its_input(act):
    x = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert kernel(_identity_relu(act), x).tolist() == [[2, 0, 1], [0, 2, 1], [1, 1, 2]]


def test_no_rectifier_is_an_error():
    with pytest.raises(ValueError, match="ReLU-family"):
        naswot(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid()), torch.randn(3, 2))
    with pytest.raises(ValueError, match="at least 2"):
        naswot(_identity_relu(), torch.randn(1, 2))


def test_agreement_is_units_minus_hamming_distance():
    codes = torch.rand(5, 37, generator=torch.Generator().manual_seed(0)) > 0.5
    k = agreement(codes)
    for i, j in itertools.product(range(5), repeat=2):
        assert k[i, j] == 37 - int((codes[i] != codes[j]).sum())


def test_int_det_is_exact():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 6):
        m = rng.integers(-9, 10, size=(n, n))
        assert int_det(m.tolist()) == round(np.linalg.det(m))
    assert int_det([[0, 1], [1, 0]]) == -1
    assert int_det([[2, 4, 1], [1, 2, 3], [3, 6, 4]]) == 0
    huge = [[10**12 + i * j for j in range(4)] for i in range(4)]  # rank 2: float LU would leave noise
    assert int_det(huge) == 0


def test_caller_module_untouched_and_dropout_off():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 1),
                        nn.ReLU())
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    first = naswot(net, x)
    assert naswot(net, x) == first and math.isfinite(first)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()) and not net.training
