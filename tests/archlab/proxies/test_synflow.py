"""SynFlow: hand-computed scores, norms removed, log scale, overflow and width."""
import math

import pytest
import torch
from torch import nn

import archlab
from archlab.proxies.synflow import remove_norms, synflow


def _linear(weight):
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
    return layer


def test_two_linear_layers_by_hand():
    # |W1| 1 = [3, 7]; R = |W2| |W1| 1 = 1*3 + 2*7 = 17. dR/dW2 = |W1| 1, dR/dW1_jk = |W2_j|, so
    # S = sum |W2| * [3, 7] + sum_jk |W1_jk| |W2_j| = 17 + (1*3 + 2*7) = 34 (two layers: S = 2R).
    net = nn.Sequential(_linear([[1.0, -2.0], [3.0, 4.0]]), nn.ReLU(), _linear([[-1.0, 2.0]]))
    assert synflow(net, torch.randn(5, 2)) == pytest.approx(math.log(34.0), rel=1e-12)


def test_conv_net_by_hand_with_batch_norm_removed():
    # 1x1 convs: channels out of conv1 = [|a|, |b|] per pixel; R = 4 pixels * (|c| |a| + |d| |b|).
    conv1, conv2 = nn.Conv2d(1, 2, 1, bias=False), nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        conv1.weight.copy_(torch.tensor([2.0, -3.0]).view(2, 1, 1, 1))
        conv2.weight.copy_(torch.tensor([0.5, -1.0]).view(1, 2, 1, 1))
    bn = nn.BatchNorm2d(2)
    with torch.no_grad():  # a "trained" BN that would change everything if it were kept
        bn.running_mean.fill_(5.0), bn.running_var.fill_(9.0), bn.weight.fill_(-7.0)
    net = nn.Sequential(conv1, bn, nn.ReLU(), conv2)
    r = 4 * (0.5 * 2 + 1.0 * 3)
    assert synflow(net, torch.zeros(3, 1, 2, 2)) == pytest.approx(math.log(2 * r), rel=1e-12)


def test_remove_norms_replaces_every_norm_in_place():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Sequential(nn.GroupNorm(1, 2), nn.ReLU()))
    remove_norms(net)
    assert isinstance(net[1], nn.Identity) and isinstance(net[2][0], nn.Identity)
    graph = remove_norms(archlab.build(archlab.get_spec("fast_scnn", width=0.5)))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in graph.modules())


def test_caller_module_untouched():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    synflow(net, torch.zeros(1, 3, 8, 8))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(net[1], nn.BatchNorm2d) and net[0].weight.dtype == torch.float32 and net.training


def test_overflow_scores_plus_inf_and_zero_flow_minus_inf():
    big = nn.Sequential(_linear([[1e200]]), _linear([[1e200]]))
    with pytest.warns(RuntimeWarning, match="overflows float64"):
        assert synflow(big, torch.ones(2, 1)) == math.inf
    assert synflow(nn.Sequential(_linear([[0.0]]), _linear([[3.0]])), torch.ones(2, 1)) == -math.inf

