import pytest
import torch
from torch import nn

from archlab.blocks.resnet import RESNET_DEPTHS, BasicBlock, ResNetStage, ResNetStem


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def conv_bn(cin, cout, k):
    """A bias-free kxk conv and its BN (weight + bias)."""
    return k * k * cin * cout + 2 * cout


def basic_block_params(cin, cout, stride):
    proj = conv_bn(cin, cout, 1) if (stride != 1 or cin != cout) else 0
    return conv_bn(cin, cout, 3) + conv_bn(cout, cout, 3) + proj


def test_stem_shape_and_params():
    stem = ResNetStem(3)
    assert stem(torch.randn(1, 3, 64, 128)).shape == (1, 64, 16, 32)
    assert (stem.out_channels, stem.stride) == (64, 4)
    assert nparams(stem) == conv_bn(3, 64, 7)
    assert ResNetStem(3, out_channels=32)(torch.randn(1, 3, 32, 32)).shape == (1, 32, 8, 8)


@pytest.mark.parametrize("cin,cout,stride", [(64, 64, 1), (64, 64, 2), (64, 128, 2), (40, 24, 1)])
def test_basic_block_params_formula_and_shape(cin, cout, stride):
    block = BasicBlock(cin, cout, stride=stride)
    assert nparams(block) == basic_block_params(cin, cout, stride)
    assert isinstance(block.shortcut, nn.Identity) == (stride == 1 and cin == cout)
    y = block(torch.randn(2, cin, 16, 24))
    assert y.shape == (2, cout, 16 // stride, 24 // stride)
    assert (y >= 0).all()  # ReLU after the addition
    assert (block.out_channels, block.stride) == (cout, stride)


def test_basic_block_identity_shortcut_is_residual():
    block = BasicBlock(16).eval()
    nn.init.zeros_(block.conv2[0].weight)  # residual branch gives BN's bias (0) only
    x = torch.randn(1, 16, 8, 8)
    assert torch.equal(block(x), torch.relu(x))


@pytest.mark.parametrize("cin,cout,blocks,stride", [(64, 64, 2, 1), (64, 128, 4, 2), (128, 256, 6, 2),
                                                     (64, 64, 3, 2)])
def test_stage_params_formula(cin, cout, blocks, stride):
    stage = ResNetStage(cin, cout, num_blocks=blocks, stride=stride)
    expected = basic_block_params(cin, cout, stride) + (blocks - 1) * basic_block_params(cout, cout, 1)
    assert nparams(stage) == expected
    assert len(stage) == blocks
    assert stage[0].stride == stride and all(b.stride == 1 for b in list(stage)[1:])
    assert stage(torch.randn(1, cin, 32, 32)).shape == (1, cout, 32 // stride, 32 // stride)


@pytest.mark.parametrize("depth,expected", [(18, 11_689_512 - 513_000), (34, 21_797_672 - 513_000)])
def test_resnet_backbones_match_the_classification_networks(depth, expected):
    """Stem + four stages = the published ResNet-18/34 (11,689,512 / 21,797,672 parameters)
    without their 512x1000 fully connected classifier."""
    stem = ResNetStem(3)
    stages, cin = [], 64
    for width, blocks, stride in zip((64, 128, 256, 512), RESNET_DEPTHS[depth], (1, 2, 2, 2)):
        stages.append(ResNetStage(cin, width, num_blocks=blocks, stride=stride))
        cin = width
    assert nparams(stem) + sum(nparams(s) for s in stages) == expected


def test_leaky_relu_act_inside_blocks():
    block = BasicBlock(8, act="leaky_relu")
    assert isinstance(block.conv1[2], nn.LeakyReLU) and isinstance(block.conv2[2], nn.Identity)
    assert isinstance(ResNetStem(3, act="leaky_relu")[0][2], nn.LeakyReLU)


@pytest.mark.parametrize("kwargs,match", [({"num_blocks": 0}, "num_blocks"), ({"stride": 0}, "stride"),
                                          ({"out_channels": 0}, "out_channels"), ({"act": "gelu"}, "act")])
def test_stage_rejects_bad_arguments(kwargs, match):
    args = {"out_channels": 32, **kwargs}
    with pytest.raises(ValueError, match=match):
        ResNetStage(16, **args)


def test_blocks_are_registered():
    from archlab.registry import get_block

    assert get_block("resnet_stage").cls is ResNetStage
    assert ResNetStage.depth_args == ("num_blocks",) and "out_channels" in ResNetStage.channel_args
    assert get_block("resnet_stem").cls is ResNetStem and get_block("basic_block").cls is BasicBlock


def test_stem_gives_the_nchw_values_and_format():
    # it computes channels-last on the CPU (a much faster max pool); the values are exactly those
    # of the plain NCHW computation, and the output is NCHW again
    torch.manual_seed(0)
    stem = ResNetStem(3, 16, act="leaky_relu").eval()
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        y = stem(x)
        assert y.is_contiguous() and torch.equal(y, nn.Sequential.forward(stem, x))
        cl = stem(x.contiguous(memory_format=torch.channels_last))  # a channels-last deploy stays so
        assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, y)
