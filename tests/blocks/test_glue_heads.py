import pytest
import torch

from archlab.blocks.glue import Add, Concat, Pool, ResizedSum, ResizeLike
from archlab.blocks.heads import Classifier, ConvClassifier, FastSCNNClassifier


def test_concat_resizes_to_the_chosen_input():
    m = Concat((8, 4), size_from=1)
    y = m(torch.randn(1, 8, 4, 4), torch.randn(1, 4, 16, 16))
    assert y.shape == (1, 12, 16, 16) and m.stride_ref == 1
    with pytest.raises(ValueError, match="size_from=2 must index one of the 2 inputs"):
        Concat((8, 4), size_from=2)


def test_add_and_resized_sum():
    a, b = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    assert torch.equal(Add((4, 4))(a, b), a + b)
    with pytest.raises(ValueError, match="equal channel counts"):
        Add((4, 8))
    y = ResizedSum((4, 4))(a, torch.randn(1, 4, 2, 2))
    assert y.shape == (1, 4, 8, 8)


def test_resize_like_and_pool():
    assert ResizeLike((5, 3))(torch.randn(1, 5, 4, 4), torch.randn(1, 3, 32, 16)).shape == (1, 5, 32, 16)
    assert Pool(4, "max", 3, 2, 1)(torch.randn(1, 4, 8, 8)).shape == (1, 4, 4, 4)
    with pytest.raises(ValueError, match="kind='min'"):
        Pool(4, "min")


def test_heads():
    x = torch.randn(1, 128, 8, 8)
    assert Classifier(128, 19)(x).shape == (1, 19, 8, 8)
    assert FastSCNNClassifier(128, 19)(x).shape == (1, 19, 8, 8)
    head = ConvClassifier(128, 19, channels=256, bias=False)
    assert head(x).shape == (1, 19, 8, 8) and head[1].bias is None
