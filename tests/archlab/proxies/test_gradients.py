"""grad_norm and SNIP: a hand-computed gradient, the ignore index and errors."""
import math

import pytest
import torch
from torch import nn

from archlab.proxies.gradients import grad_norm, gradient_scores, snip


def _pixel_classifier(a=2.0, b=-1.0):
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([a, b]).view(2, 1, 1, 1))
    return conv


def test_one_pixel_by_hand():
    # logits = [a x, b x] = [3, -1.5]; label 0: dL/dlogits = softmax - onehot = [p0 - 1, p1]; dL/dw = x * that.
    a, b, x = 2.0, -1.0, 1.5
    p1 = 1 / (1 + math.exp(a * x - b * x))
    g = [x * -p1, x * p1]
    images, labels = torch.full((1, 1, 1, 1), x), torch.zeros(1, 1, 1, dtype=torch.long)
    assert grad_norm(_pixel_classifier(a, b), images, labels) == pytest.approx(math.hypot(*g), rel=1e-5)
    assert snip(_pixel_classifier(a, b), images, labels) == pytest.approx(abs(a * g[0]) + abs(b * g[1]), rel=1e-5)


def test_ignored_pixels_do_not_count():
    x = torch.tensor([1.5, -4.0]).view(1, 1, 1, 2)
    both = gradient_scores(_pixel_classifier(), x, torch.tensor([[[0, 255]]]))
    one = gradient_scores(_pixel_classifier(), x[..., :1], torch.tensor([[[0]]]))
    assert both == pytest.approx(one, rel=1e-6)
    assert gradient_scores(_pixel_classifier(), x, torch.tensor([[[0, 1]]])) != pytest.approx(one, rel=1e-3)


def test_logits_are_resized_to_the_labels():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 1))
    scores = gradient_scores(net, torch.randn(2, 3, 8, 8), torch.randint(0, 5, (2, 8, 8)))
    assert all(math.isfinite(v) and v > 0 for v in scores.values())


def test_errors():
    images = torch.randn(1, 1, 2, 2)
    with pytest.raises(ValueError, match="need labels"):
        grad_norm(_pixel_classifier(), images, None)
    with pytest.raises(ValueError, match="255"):
        snip(_pixel_classifier(), images, torch.full((1, 2, 2), 255))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        snip(_pixel_classifier(), images, torch.zeros(1, 4, dtype=torch.long))


def test_caller_module_untouched():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 5, 1)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    gradient_scores(net, torch.randn(2, 3, 8, 8), torch.randint(0, 5, (2, 8, 8)))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training and all(p.grad is None for p in net.parameters())
