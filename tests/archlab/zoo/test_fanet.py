"""FANet-18 and FANet-34 (Hu et al., RA-L 2021) against the authors' code's structure."""
import pytest
import torch

import archlab
from archlab.profile.counters import count_params, fvcore_macs
from archlab.errors import SpecError
from archlab.graph import infer_shapes

# ResNet-18/34 without their fc layer (11,689,512 / 21,797,672 - 513,000), plus the projection
# shortcut that stage 1's extra stride needs (1x1 conv 64->64 + BN).
BACKBONE = {"fanet18": 11_176_512 + 64 * 64 + 128, "fanet34": 21_284_672 + 64 * 64 + 128}


def attention_params(c, k=32):
    return 2 * (c * k + 2 * k) + 2 * (c * c + 2 * c)


def conv_bn(cin, cout, ks):
    return ks * ks * cin * cout + 2 * cout


DECODER = (sum(attention_params(c) for c in (64, 128, 256, 512))
           + conv_bn(512, 256, 1)  # stage 4: up (its smooth conv only feeds the training-time aux head)
           + conv_bn(256, 128, 1) + conv_bn(256, 128, 3)  # stage 3: up + smooth
           + conv_bn(128, 64, 1)  # stage 2: up
           + conv_bn(64, 128, 3)  # stage 1: smooth
           + conv_bn(256, 256, 3) + 256 * 19)  # head: 3x3 conv-BN-act, 1x1 conv without bias


# The authors' inference model (github.com/feinanshan/FANet, Testing/models/fanet/fanet.py and
# resnet.py, FANet(nclass=19, backbone="resnet18"/"resnet34")): parameters summed over
# model.parameters(); MACs from fvcore's FlopCountAnalysis(...).total() at 1x3x1024x2048 in eval
# mode, their norm layer replaced by BatchNorm2d + leaky ReLU (their Train/ptsemseg/models/
# __init__.py's; Testing's own skips the normalisation for their speed table, same parameters).
AUTHORS_PARAMS = {"fanet18": 13_820_032, "fanet34": 23_928_192}
AUTHORS_FVCORE_MACS = {"fanet18": 47_437_434_368, "fanet34": 66_791_001_600}
# Modules their FastAttModule always builds but their inference forward never uses: stage 4's
# smooth 3x3 512->128 (computed and discarded; in training it feeds an auxiliary head), stage 2's
# smooth 3x3 128->128 and stage 1's up 1x1 64->32 (never called).
AUTHORS_UNUSED = conv_bn(512, 128, 3) + conv_bn(128, 128, 3) + conv_bn(64, 32, 1)


def authors_up_padding_macs(height, width):
    """What the authors' padding=1 on the three 'up' 1x1 convs adds at an input of height x width
    (fvcore: the conv's MACs and BN's two per element on the (h+2) x (w+2) output)."""
    extra = 0
    for stride, cin, cout in ((64, 512, 256), (32, 256, 128), (16, 128, 64)):
        h, w = height // stride, width // stride
        border = (h + 2) * (w + 2) - h * w
        extra += border * cout * (cin + 2)
    return extra


@pytest.fixture(scope="module")
def models():
    """Each model built once for the module (building is most of these tests' time)."""
    return {name: archlab.create_model(name).eval() for name in ("fanet18", "fanet34")}


@pytest.mark.parametrize("name,pinned", [("fanet18", 13_080_128), ("fanet34", 23_188_288)])
def test_parameter_counts_pinned_and_derived(models, name, pinned):
    params = count_params(models[name])
    assert params == pinned
    assert params == BACKBONE[name] + DECODER


@pytest.mark.parametrize("name", ["fanet18", "fanet34"])
def test_parameters_equal_the_authors_code_less_its_unused_modules(models, name):
    assert AUTHORS_UNUSED == 739_904
    assert count_params(models[name]) + AUTHORS_UNUSED == AUTHORS_PARAMS[name]
    published = archlab.get_spec(name).meta["published"]["params_M_authors_code"]
    assert published == round(AUTHORS_PARAMS[name] / 1e6, 2)


@pytest.mark.parametrize("name", ["fanet18", "fanet34"])
def test_forward_shape(models, name):
    with torch.no_grad():
        assert models[name](torch.randn(1, 3, 128, 256)).shape == (1, 19, 128, 256)


def test_strides_and_channels():
    shapes = infer_shapes(archlab.get_spec("fanet18"))
    assert shapes["stem"].out_strides == (4,)
    for i, width in enumerate((64, 128, 256, 512), start=1):
        assert shapes[f"stage{i}"].out_channels == (width,)
        assert shapes[f"stage{i}"].out_strides == (4 * 2 ** i,)
        assert shapes[f"att{i}"].out_channels == (width,)
    assert shapes["fuse4"].out_channels == (256,) and shapes["fuse3"].out_channels == (128, 128)
    assert shapes["fuse2"].out_channels == (64,) and shapes["fuse1"].out_channels == (128,)
    assert shapes["cat"].out_channels == (256,) and shapes["cat"].out_strides == (8,)
    assert shapes["cls"].out_channels == (19,)


def test_input_sides_must_divide_by_64():
    with pytest.raises(SpecError, match="multiples of 64"):
        archlab.validate(archlab.get_spec("fanet18"), (96, 192))
    archlab.validate(archlab.get_spec("fanet18"), (64, 128))


def test_macs_pinned_and_linear_in_pixels(models):
    """fvcore MACs at 128x256; every operator (convs and the fast attention) is linear in the
    number of pixels, so 1024x2048 costs exactly 64 times as much (47.41 GMACs)."""
    model = models["fanet18"]
    small = fvcore_macs(model, (1, 3, 64, 128))
    macs = fvcore_macs(model, (1, 3, 128, 256))
    assert macs == 740_852_736  # x 64 = 47,414,575,104 at 1024x2048
    assert macs == 4 * small


@pytest.mark.parametrize("name", ["fanet18", "fanet34"])
def test_macs_equal_the_authors_code_but_for_its_padded_up_convs(models, name):
    """At 1024x2048 the authors' fvcore count exceeds ours by exactly what their 'up' 1x1 convs'
    padding of 1 adds (a border of zeros, shifting the upsampled features; not reproduced). Stage
    4's discarded smooth conv is not in their fvcore figure either: the trace drops unused outputs.
    """
    assert authors_up_padding_macs(1024, 2048) == 22_859_264
    ours_1024x2048 = 64 * fvcore_macs(models[name], (1, 3, 128, 256))  # linear in pixels (test above)
    assert ours_1024x2048 + authors_up_padding_macs(1024, 2048) == AUTHORS_FVCORE_MACS[name]


def test_width_and_depth_knobs_keep_fusion_consistent():
    # up_channels are written per fusion so they scale exactly like the finer stage's width
    # (0.55: the stage widths round to 32, 72, 144, 280; C/2 would give 36 != 32 at stage 1)
    for width in (0.75, 1.3):
        archlab.validate(archlab.get_spec("fanet18", width=width))  # shapes checked on meta tensors
    model = archlab.create_model("fanet18", width=0.55, num_classes=5).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 128)).shape == (1, 5, 64, 128)
    deeper = archlab.get_spec("fanet18", depth=2.0)
    assert [deeper.node(f"stage{i}").args["num_blocks"] for i in range(1, 5)] == [4, 4, 4, 4]


def test_published_figures_recorded():
    for name, miou, fps in (("fanet18", 74.4, 72), ("fanet34", 75.5, 58)):
        published = archlab.get_spec(name).meta["published"]
        assert (published["miou_pct"], published["fps"], published["fps_input"]) == (miou, fps, "1024x2048")
