"""Every zoo model builds, runs, returns N x classes x H x W, and trains one step on CPU."""
import pytest
import torch

import archlab
from archlab.graph import small_input_size as small_size

MODELS = archlab.list_models()


def test_the_zoo_has_every_seed_architecture():
    expected = {"fast_scnn", "fassd_net", "fassd_net_l1", "fassd_net_l2", "fc_hardnet70", "dfanet_a", "dfanet_b",
                "fanet18", "fanet34", "ndnet45_ende"}
    assert expected <= set(MODELS)
    assert {"ndnet29", "ndnet45", "ndnet61"} <= set(archlab.list_models(kind="backbone"))


@pytest.mark.parametrize("name", MODELS)
def test_forward_shape(name):
    spec = archlab.get_spec(name)
    h, w = small_size(spec)
    model = archlab.build(spec, input_size=(1, 3, h, w)).eval()
    with torch.inference_mode():
        y = model(torch.randn(1, 3, h, w))
    assert y.shape == (1, 19, h, w)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", MODELS)
def test_one_sgd_step_changes_the_loss_and_reaches_every_parameter(name):
    torch.manual_seed(0)
    spec = archlab.get_spec(name, num_classes=5)
    h, w = small_size(spec)
    model = archlab.build(spec).train()
    x, target = torch.randn(2, 3, h, w), torch.randint(0, 5, (2, h, w))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    opt.step()
    opt.zero_grad()
    loss2 = torch.nn.functional.cross_entropy(model(x), target)
    assert torch.isfinite(loss2)
    assert abs(loss2.item() - loss.item()) > 1e-6


def test_batch_one_training_forward_works_with_pooled_branches():
    # ASPP's and PPM's pooled branches see one value per channel at batch 1.
    for name, ctx in (("fassd_net", "aspp"), ("fast_scnn", "ppm")):
        spec = archlab.transforms.replace(archlab.get_spec(name), "context", block=ctx)
        model = archlab.build(spec).train()
        model(torch.randn(1, 3, 64, 64)).sum().backward()


def test_list_blocks_names_parameters_defaults_and_paper():
    blocks = {b["name"]: b for b in archlab.list_blocks()}
    for name in ("conv_bn_act", "dw_separable", "asymmetric_conv", "learning_to_downsample",
                 "inverted_residual_stage", "ppm", "feature_fusion", "aspp", "dapf", "mda", "hard_block",
                 "fast_attention", "xception_block", "fc_attention", "narrow_bottleneck", "resnet_stage",
                 "classifier"):
        assert name in blocks, name
        assert blocks[name]["paper"], f"{name} names no paper"
    assert blocks["dapf"]["parameters"]["alpha"] == 2
    assert blocks["mda"]["parameters"]["dilation"] == 2


def test_unknown_model_suggests():
    with pytest.raises(archlab.SpecError, match="Did you mean 'fassd_net'"):
        archlab.get_spec("fasd_net")
