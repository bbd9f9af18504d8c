"""params and macs: archlab's counters, and a conv counted by hand."""
import torch
from torch import nn

import archlab
from archlab.profile.counters import count, count_params
from archlab.proxies.counts import macs, params


def test_conv_by_hand():
    net = nn.Conv2d(3, 4, 3, padding=1)
    assert params(net) == 4 * 3 * 9 + 4
    assert macs(net, torch.zeros(5, 3, 8, 8)) == 4 * 8 * 8 * 3 * 9  # per image, bias excluded


def test_equal_archlab_counters():
    spec = archlab.get_spec("fast_scnn", width=0.5)
    torch.manual_seed(0)
    model = archlab.build(spec)
    images = torch.zeros(4, 3, 32, 64)
    assert params(spec) == params(model) == count_params(model)
    assert macs(spec, images) == macs(model, images) == count(model, images[:1]).macs_reconciled
    assert macs(model, torch.zeros(1, 3, 64, 128)) > 3.5 * macs(model, images)
