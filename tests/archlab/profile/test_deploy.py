"""Deploy options: BatchNorm folding is exact, channels_last and dtypes are applied, bad settings are clear."""
import pytest
import torch
from torch import nn

import archlab
from archlab.graph import small_input_size
from archlab.profile.deploy import DeploySettings, count_batchnorms, deploy_record, fold_batchnorm, prepare

SMALL = (1, 3, 64, 128)


def randomise_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Give every BN non-trivial running statistics and affine parameters, so folding changes weights."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_((torch.rand(c, generator=g) - 0.5) * 0.4)  # U(-0.2, 0.2)
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))  # U(0.5, 1.5)
            m.weight.data.copy_(0.7 + 0.6 * torch.rand(c, generator=g))  # U(0.7, 1.3)
            m.bias.data.copy_((torch.rand(c, generator=g) - 0.5) * 0.4)


@pytest.mark.parametrize("name", archlab.list_models())
def test_folding_batchnorm_keeps_outputs(name):
    """The issue's check: equal within 1e-5 on random input, for every zoo model.

    float64 (fold done in float64 too): the fold itself is exact, differences ~1e-14, checked at
    1e-5 absolute. float32: also 1e-5 absolute where the output is within [-1, 1]; FANet's
    logits reach ~5 and its ResNet path accumulates ~1e-6 relative round-off in float32, so the
    float32 bound is 1e-5 scaled by the output's largest magnitude when that exceeds 1.
    """
    model = archlab.create_model(name)
    randomise_batchnorms(model)
    model.eval()
    x = torch.randn((1, 3) + small_input_size(model.spec), generator=torch.Generator().manual_seed(1))
    folded = fold_batchnorm(model)
    assert folded.bn_folded > 0
    assert count_batchnorms(folded) == folded.bn_unfolded < count_batchnorms(model)
    assert model.training is False and any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # untouched
    with torch.inference_mode():
        y, y_folded = model(x), folded(x)
    scale = max(1.0, y.abs().max().item())
    assert (y - y_folded).abs().max().item() <= 1e-5 * scale
    model64 = model.double()
    with torch.inference_mode():
        y64, y64_folded = model64(x.double()), fold_batchnorm(model64)(x.double())
    assert (y64 - y64_folded).abs().max().item() <= 1e-5


def test_folding_counts_fassd_mda_batchnorms_as_unfoldable():
    model = archlab.create_model("fassd_net")
    folded = fold_batchnorm(model)
    # each MDA has a BN before a PReLU (pre) and one after a sum (post): three MDAs, six BNs left
    assert folded.bn_unfolded == 6
    assert all(name.endswith(("pre.0", "post.0")) for name in folded.bn_unfolded_names)
    assert folded.bn_folded + folded.bn_unfolded == count_batchnorms(model)


def test_folding_a_plain_sequential_and_a_conv_with_bias():
    conv = nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=True)
    model = nn.Sequential(conv, nn.BatchNorm2d(6), nn.ReLU(), nn.BatchNorm2d(6))
    randomise_batchnorms(model)
    model.eval()
    folded = fold_batchnorm(model)
    assert (folded.bn_folded, folded.bn_unfolded) == (1, 1)  # the second BN follows a ReLU
    assert isinstance(folded[1], nn.Identity)
    x = torch.randn(2, 4, 9, 11)
    assert torch.allclose(model(x), folded(x), atol=1e-6)


def test_a_sequential_with_its_own_forward_is_left_alone():
    class Reordered(nn.Sequential):
        def forward(self, x):  # BN first: folding it into the conv would be wrong
            return self[0](self[1](x))

    model = Reordered(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))
    assert fold_batchnorm(model).bn_folded == 0


def test_prepare_applies_channels_last_and_records_settings():
    model = archlab.create_model("fast_scnn")
    settings = DeploySettings(channels_last=True, fuse_bn=True, batch=2)
    prepared, x = prepare(model, (2, 3, 64, 128), settings)
    assert x.shape == (2, 3, 64, 128) and x.is_contiguous(memory_format=torch.channels_last)
    weights = [p for p in prepared.parameters() if p.ndim == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert prepared is not model and not prepared.training
    assert all(p.is_contiguous() for p in model.parameters())  # the caller's model is untouched
    record = deploy_record(settings, prepared)
    assert record["channels_last"] is True and record["fuse_bn"] is True and record["torch_compile"] is False
    assert record["batch"] == 2 and record["dtype"] == "fp32" and record["device"] == "cpu"
    assert record["bn_folded"] > 0 and record["bn_unfolded"] == 0
    with torch.inference_mode():
        assert prepared(x).shape == (2, 19, 64, 128)


def test_prepare_bf16_on_cpu_and_size_forms():
    model = archlab.create_model("fast_scnn")
    prepared, x = prepare(model, (64, 128), DeploySettings(dtype="bf16"))
    assert x.dtype == torch.bfloat16 and x.shape == (1, 3, 64, 128)
    assert all(p.dtype == torch.bfloat16 for p in prepared.parameters())
    assert prepared.bn_folded == 0 and prepared.bn_unfolded == count_batchnorms(model)
    _, x = prepare(model, (3, 64, 128), DeploySettings(batch=3))
    assert x.shape == (3, 3, 64, 128)


@pytest.mark.parametrize("settings, message", [
    (DeploySettings(dtype="fp16"), "fp16 needs --device cuda; on CPU use fp32 or bf16"),
    (DeploySettings(dtype="float32"), "valid dtypes are fp32, fp16, bf16"),
    (DeploySettings(device="tpu"), "valid"),
    (DeploySettings(batch=0), "batch=0 must be a positive integer"),
    (DeploySettings(cudnn_benchmark=True), "cudnn_benchmark applies to --device cuda only"),
])
def test_prepare_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        prepare(nn.Conv2d(3, 3, 1), SMALL, settings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_prepare_cuda_without_cuda_is_clear():
    with pytest.raises(ValueError, match="torch.cuda.is_available\\(\\) is False"):
        prepare(nn.Conv2d(3, 3, 1), SMALL, DeploySettings(device="cuda"))


def test_prepare_checks_sizes():
    with pytest.raises(ValueError, match="batch 2 but settings.batch=1"):
        prepare(nn.Conv2d(3, 3, 1), (2, 3, 8, 8), DeploySettings())
    with pytest.raises(archlab.SpecError, match="multiples of 32"):
        prepare(archlab.create_model("fast_scnn"), (1, 3, 100, 100), DeploySettings())


def test_compile_failure_names_its_cause(monkeypatch):
    def broken(model, *args, **kwargs):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler found")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(RuntimeError, match="torch.compile failed .*no C\\+\\+ compiler found"):
        prepare(nn.Conv2d(3, 3, 1), SMALL, DeploySettings(compile=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_prepare_half_precision_on_cuda(dtype):
    if dtype == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    prepared, x = prepare(archlab.create_model("fast_scnn"), SMALL,
                          DeploySettings(device="cuda", dtype=dtype, channels_last=True, fuse_bn=True,
                                         cudnn_benchmark=True))
    assert x.is_cuda and x.dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    with torch.inference_mode():
        assert torch.isfinite(prepared(x)).all()
