import pytest
import torch
from torch import nn

from archlab.registry import get_block
from archlab.blocks.ndnet import NarrowBottleneck, NDNetSepConv, NDNetStage, NDNetStem


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def sep(c_in, c_out):
    """Parameters of NDNet's separable conv: depthwise 3x3 (no bias, no BN), pointwise 1x1, BN."""
    return 9 * c_in + c_in * c_out + 2 * c_out


def test_sep_conv_has_bn_and_act_only_after_the_pointwise_conv():
    m = NDNetSepConv(32, 48)
    assert nparams(m) == 9 * 32 + 32 * 48 + 2 * 48
    assert sum(isinstance(x, nn.BatchNorm2d) for x in m.modules()) == 1
    assert sum(isinstance(x, nn.ReLU) for x in m.modules()) == 1
    assert m[0].groups == 32 and m[0].bias is None
    assert NDNetSepConv(32, 48, act="none")(torch.randn(2, 32, 8, 8)).min() < 0  # linear form
    assert NDNetSepConv(32, 48, stride=2)(torch.randn(1, 32, 16, 16)).shape == (1, 48, 8, 8)
    with pytest.raises(ValueError, match="must be odd"):
        NDNetSepConv(32, 48, kernel_size=2)


def test_stem_is_quarter_resolution_with_8_channels():
    m = NDNetStem(3)
    assert (m.out_channels, m.stride) == (8, 4)
    assert m(torch.randn(1, 3, 128, 256)).shape == (1, 8, 32, 64)
    assert nparams(m) == 3 * 8 * 9 + 2 * 8


def test_identity_bottleneck_parameter_count():
    m = NarrowBottleneck(64, channels=16)
    assert isinstance(m.shortcut, nn.Identity)
    assert (m.out_channels, m.stride) == (64, 1)
    assert nparams(m) == sep(64, 16) + sep(16, 64)
    assert m(torch.randn(1, 64, 16, 32)).shape == (1, 64, 16, 32)


@pytest.mark.parametrize("c_in,stride", [(8, 2), (32, 1)])
def test_projection_bottleneck_parameter_count(c_in, stride):
    # Projection when the block strides (8 -> 64, stride 2) or changes width (32 -> 64, stride 1).
    m = NarrowBottleneck(c_in, channels=16, stride=stride)
    assert isinstance(m.shortcut, NDNetSepConv)
    assert nparams(m) == sep(c_in, 16) + sep(16, 64) + sep(c_in, 64)
    assert m(torch.randn(1, c_in, 16, 32)).shape == (1, 64, 16 // stride, 32 // stride)


def test_relu_after_the_add_and_identity_path():
    torch.manual_seed(0)
    m = NarrowBottleneck(64, channels=16).eval()
    bn = m.conv2[1][1]
    nn.init.zeros_(bn.weight)
    nn.init.zeros_(bn.bias)  # residual branch now outputs zero
    x = torch.randn(2, 64, 8, 8)
    torch.testing.assert_close(m(x), torch.relu(x))


def test_dilation_keeps_resolution():
    stage = NDNetStage(128, channels=64, num_blocks=3, stride=1, dilation=2)
    assert stage(torch.randn(1, 128, 8, 16)).shape == (1, 256, 8, 16)
    assert stage.stride == 1
    for block in stage:
        assert block.conv1[0].dilation == (2, 2) and block.conv1[0].padding == (2, 2)
        assert block.conv2[0].dilation == (2, 2)
    # width changes in the first block, so it projects even without a stride (as the authors' code does)
    assert isinstance(stage[0].shortcut, NDNetSepConv) and stage[0].shortcut[0].dilation == (2, 2)


def test_stage_first_block_strides_and_projects_only():
    stage = NDNetStage(8, channels=16, num_blocks=4, stride=2)
    assert len(stage) == 4 and (stage.out_channels, stage.stride) == (64, 2)
    assert [b.stride for b in stage] == [2, 1, 1, 1]
    assert [isinstance(b.shortcut, nn.Identity) for b in stage] == [False, True, True, True]
    assert nparams(stage) == sep(8, 16) + sep(16, 64) + sep(8, 64) + 3 * (sep(64, 16) + sep(16, 64))
    assert stage(torch.randn(1, 8, 32, 64)).shape == (1, 64, 16, 32)


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="channels=0 must be a positive integer"):
        NarrowBottleneck(8, channels=0)
    with pytest.raises(ValueError, match="num_blocks=0"):
        NDNetStage(8, channels=16, num_blocks=0)
    with pytest.raises(ValueError, match="dilation=0"):
        NDNetStage(8, channels=16, dilation=0)


def test_registered_with_knob_arguments():
    stage = get_block("ndnet_stage")
    assert stage.cls.channel_args == {"channels": 4} and stage.cls.depth_args == ("num_blocks",)
    for name in ("ndnet_stem", "narrow_bottleneck", "ndnet_stage", "ndnet_sep_conv"):
        assert "NDNet" in get_block(name).paper


def test_stage_gives_the_nchw_values_and_format():
    # computed channels-last on the CPU (much faster depthwise convs); same values up to rounding
    torch.manual_seed(0)
    stage = NDNetStage(8, 16, 3, stride=2).eval()
    x = torch.randn(1, 8, 32, 64)
    with torch.no_grad():
        y = stage(x)
        assert y.is_contiguous() and torch.allclose(y, nn.Sequential.forward(stage, x), rtol=1e-5, atol=1e-6)
