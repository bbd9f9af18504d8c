import logging

import pytest
import torch
from torch import nn

from archlab.blocks.attention import FANetFusion, FANetFusionUp, FastAttention


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def randomise_bn(module):
    """Non-trivial BN statistics and affine terms, so eval-mode outputs exercise every layer."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    return module.eval()


def fvcore(module, shape):
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(module.eval(), torch.zeros(shape))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total(), dict(analysis.by_operator())


def naive_attention(m, x):
    """(Q̂ K̂ᵀ) V: the n x n affinity first, with the L2 normalisation written out."""
    q, k, v = (f(x).flatten(2) for f in (m.query, m.key, m.value))
    q = q / q.norm(dim=1, keepdim=True)
    k = k / k.norm(dim=1, keepdim=True)
    affinity = q.transpose(1, 2) @ k  # (N, n, n)
    y = (affinity @ v.transpose(1, 2)).transpose(1, 2)  # (N, C, n)
    return y.reshape(x.shape)


def test_fast_attention_shape_and_residual():
    m = FastAttention(48).eval()
    x = torch.randn(2, 48, 12, 20)
    assert m(x).shape == x.shape and (m.out_channels, m.stride) == (48, 1)
    nn.init.zeros_(m.proj[0].weight)  # output conv gives 0 (BN eval: bias 0, mean 0): only x remains
    assert torch.equal(m(x), x)


def test_fast_attention_params_formula():
    c, k = 128, 32
    qk = 2 * (c * k + 2 * k)  # Q and K: 1x1 conv + BN
    v_and_out = 2 * (c * c + 2 * c)  # V and the output conv: 1x1 conv + BN
    assert nparams(FastAttention(c)) == qk + v_and_out
    assert nparams(FastAttention(c, key_channels=16)) == 2 * (c * 16 + 32) + v_and_out


def test_fast_attention_equals_naive_order_float64():
    torch.manual_seed(0)
    m = randomise_bn(FastAttention(64)).double()
    x = torch.randn(2, 64, 16, 24, dtype=torch.float64)
    with torch.no_grad():
        fast, naive = m.attend(x), naive_attention(m, x)
        assert (fast - naive).abs().max() < 1e-5
        assert naive.abs().max() > 1.0  # a real comparison, not of two near-zero maps
        m.order = "qk_first"
        assert (m.attend(x) - fast).abs().max() < 1e-5


def test_fast_attention_scaled_by_n_float32():
    torch.manual_seed(1)
    m = randomise_bn(FastAttention(32, scale=True))
    x = torch.randn(1, 32, 8, 16)
    with torch.no_grad():
        assert torch.allclose(m.attend(x), naive_attention(m, x) / (8 * 16), atol=1e-5, rtol=0)
        unscaled = FastAttention(32)
        unscaled.load_state_dict(m.state_dict())
        assert torch.allclose(unscaled.eval().attend(x), m.attend(x) * 128, rtol=1e-5, atol=1e-4)


def test_fast_attention_is_cosine_similarity_without_softmax():
    m = randomise_bn(FastAttention(16))
    with torch.no_grad():
        # the same feature at every pixel: every affinity is cos(q, k), so y = cos(q, k) * sum_j v_j
        # (a softmax would weight each pixel 1/n instead)
        x = torch.randn(1, 16, 1, 1).expand(1, 16, 6, 6).contiguous()
        q, k, v = m.query(x)[0, :, 0, 0], m.key(x)[0, :, 0, 0], m.value(x)
        cos = torch.dot(q, k) / (q.norm() * k.norm())
        expected = (cos * v.sum(dim=(2, 3), keepdim=True)).expand_as(v)
        assert torch.allclose(m.attend(x), expected, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(m.attend(x), v.mean(dim=(2, 3), keepdim=True).expand_as(v), rtol=1e-2)


def test_fast_attention_macs_linear_in_pixels():
    c, k = 64, 32
    small, small_ops = fvcore(FastAttention(c), (1, c, 16, 16))
    large, large_ops = fvcore(FastAttention(c), (1, c, 32, 16))  # n doubled
    assert large / small == pytest.approx(2.0, rel=0.01)
    assert large_ops["bmm"] == 2 * small_ops["bmm"]
    assert small_ops["bmm"] == 2 * (16 * 16) * k * c  # Kᵀ·V and Q·(KᵀV): n·k·C each


def test_qk_first_order_is_quadratic():
    """The ablation order (Q Kᵀ) V: the matmuls grow 4x when n doubles, so the test above can fail."""
    c, k = 64, 32
    _, small = fvcore(FastAttention(c, order="qk_first"), (1, c, 16, 16))
    _, large = fvcore(FastAttention(c, order="qk_first"), (1, c, 32, 16))
    assert large["bmm"] == 4 * small["bmm"]
    assert small["bmm"] == (16 * 16) ** 2 * (k + c)


@pytest.mark.parametrize("kwargs,match", [({"key_channels": 0}, "key_channels"), ({"order": "fast"}, "order"),
                                          ({"act": "swish"}, "act"), ({"scale": 1}, "scale")])
def test_fast_attention_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FastAttention(32, **kwargs)


@pytest.mark.parametrize("up,smooth,expected", [(True, True, (32, 128)), (True, False, 32), (False, True, 128)])
def test_fusion_outputs_follow_flags(up, smooth, expected):
    f = FANetFusion(64, up=up, smooth=smooth)
    assert f.out_channels == expected and f.stride == 1
    out = f(torch.randn(1, 64, 8, 16))
    outs = out if isinstance(out, tuple) else (out,)
    assert isinstance(out, tuple) == isinstance(expected, tuple)
    assert tuple(o.shape[1] for o in outs) == (expected if isinstance(expected, tuple) else (expected,))
    assert all(o.shape[-2:] == (8, 16) for o in outs)
    up_params = (64 * 32 + 64) if up else 0  # 1x1 conv + BN
    smooth_params = (9 * 64 * 128 + 256) if smooth else 0  # 3x3 conv + BN
    assert nparams(f) == up_params + smooth_params


def test_fusion_up_adds_upsampled_coarse_features():
    torch.manual_seed(0)
    single = randomise_bn(FANetFusion(32, up_channels=16, smooth_channels=24))
    double = FANetFusionUp((32, 32), up_channels=16, smooth_channels=24).eval()
    double.load_state_dict(single.state_dict())
    x, coarse = torch.randn(1, 32, 8, 16), torch.randn(1, 32, 4, 8)
    with torch.no_grad():
        up, smooth = double(x, coarse)
        assert up.shape == (1, 16, 8, 16) and smooth.shape == (1, 24, 8, 16)
        expected = single(x + nn.functional.interpolate(coarse, (8, 16), mode="bilinear", align_corners=True))
        assert torch.allclose(up, expected[0]) and torch.allclose(smooth, expected[1])
        zero_up = double(x, torch.zeros_like(coarse))
        assert torch.allclose(zero_up[0], single(x)[0])


def test_fusion_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        FANetFusion(64, up=False, smooth=False)
    with pytest.raises(ValueError, match="up_channels to 64"):
        FANetFusionUp((64, 32))
    with pytest.raises(ValueError, match="two inputs"):
        FANetFusionUp(64)
    with pytest.raises(ValueError, match="smooth_channels"):
        FANetFusion(64, smooth_channels=0)


def test_attention_blocks_registered():
    from archlab.registry import get_block

    assert get_block("fast_attention").cls is FastAttention
    assert get_block("fanet_fusion").num_inputs == 1
    assert get_block("fanet_fusion_up").num_inputs == 2
    assert FastAttention.channel_args == {"key_channels": 8}
