"""The accuracy floors see what their docstrings say: 1 pixel, and a 13x13 window."""
import pytest
import torch

import archlab


def _influence(name: str) -> torch.Tensor:
    """Pixels of the input whose change moves the output at the centre pixel."""
    model = archlab.create_model(name).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    model(x)[0, :, 16, 16].sum().backward()
    return x.grad.abs().sum(1)[0] > 0


def test_floors_are_listed_apart_from_the_segmentation_models():
    assert archlab.list_models(kind="floor") == ["color_mlp", "small_rf_cnn"]
    assert "color_mlp" not in archlab.list_models()


def test_color_mlp_sees_one_pixel():
    seen = _influence("color_mlp")
    assert seen.sum() == 1 and seen[16, 16]


def test_small_rf_cnn_sees_at_most_a_13_pixel_window():
    seen = _influence("small_rf_cnn")
    rows, cols = seen.nonzero(as_tuple=True)
    assert 5 <= rows.max() - rows.min() + 1 <= 13 and 5 <= cols.max() - cols.min() + 1 <= 13
    assert abs(rows.float().mean() - 16) <= 2


@pytest.mark.parametrize("name", ["color_mlp", "small_rf_cnn"])
def test_floors_output_full_resolution_class_scores(name):
    assert archlab.create_model(name, num_classes=11)(torch.zeros(2, 3, 32, 48)).shape == (2, 11, 32, 48)
