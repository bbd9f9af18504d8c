"""DFANet's Xception blocks, encoder stages and FC attention (blocks/xception.py)."""
import pytest
import torch

from archlab.blocks.xception import FCAttention, XceptionBlock, XceptionStage


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def sep_params(i, o):
    """Depthwise 3x3 (no bias) + BN, pointwise 1x1 (no bias) + BN."""
    return 9 * i + 2 * i + i * o + 2 * o


def block_params(i, o, projection):
    m = o // 4
    return sep_params(i, m) + sep_params(m, m) + sep_params(m, o) + (i * o + 2 * o if projection else 0)


@pytest.mark.parametrize("cin,cout,stride", [(8, 48, 2), (48, 48, 1), (240, 48, 2), (96, 192, 1)])
def test_xception_block_shape_and_params(cin, cout, stride):
    m = XceptionBlock(cin, cout, stride=stride)
    y = m(torch.randn(2, cin, 32, 48))
    assert y.shape == (2, cout, 32 // stride, 48 // stride)
    assert (m.out_channels, m.stride) == (cout, stride)
    projection = stride != 1 or cin != cout
    assert nparams(m) == block_params(cin, cout, projection)
    assert isinstance(m.shortcut, torch.nn.Identity) != projection


def test_xception_block_widths_and_stride_on_last_conv():
    m = XceptionBlock(8, 48, stride=2)
    depthwise = [sep[0][0] for sep in m.body]
    pointwise = [sep[1][0] for sep in m.body]
    assert [c.out_channels for c in pointwise] == [12, 12, 48]
    assert [c.stride for c in depthwise] == [(1, 1), (1, 1), (2, 2)]
    assert m.shortcut[0].stride == (2, 2) and m.shortcut[0].kernel_size == (1, 1)


def test_xception_block_output_is_relu_of_residual_sum():
    m = XceptionBlock(16, 16).eval()
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(m(x), torch.relu(m.body(x) + x))


def test_xception_block_errors():
    with pytest.raises(ValueError, match="multiple of 4"):
        XceptionBlock(8, 30)
    with pytest.raises(ValueError, match="act='gelu' is not an activation"):
        XceptionBlock(8, 32, act="gelu")
    with pytest.raises(ValueError, match="stride=0 must be a positive integer"):
        XceptionBlock(8, 32, stride=0)


def test_xception_stage_first_block_strides():
    m = XceptionStage(8, 48, num_blocks=4, stride=2)
    assert m(torch.randn(1, 8, 64, 64)).shape == (1, 48, 32, 32)
    assert len(m) == 4 and [b.stride for b in m] == [2, 1, 1, 1]
    # Table 1, backbone A enc2: one projecting block then three identity blocks
    assert nparams(m) == block_params(8, 48, True) + 3 * block_params(48, 48, False) == 8488
    with pytest.raises(ValueError, match="num_blocks=0 must be a positive integer"):
        XceptionStage(8, 48, num_blocks=0)


def test_fc_attention_params():
    m = FCAttention(192)
    # Linear 192 -> 1000 with bias, 1x1 conv 1000 -> 192 without bias, BN(192)
    assert nparams(m) == 192 * 1000 + 1000 + 1000 * 192 + 2 * 192
    assert nparams(FCAttention(64, fc_dim=10)) == 64 * 10 + 10 + 10 * 64 + 2 * 64
    with pytest.raises(ValueError, match="fc_dim=0 must be a positive integer"):
        FCAttention(8, fc_dim=0)


@pytest.mark.parametrize("sigmoid", [False, True])
def test_fc_attention_scales_each_channel_by_one_factor(sigmoid):
    torch.manual_seed(0)
    m = FCAttention(24, fc_dim=50, sigmoid=sigmoid).eval()
    x = torch.rand(2, 24, 6, 10) + 0.5
    with torch.no_grad():
        y = m(x)
        factors = m.factors(x)
        # by construction: the factor vector from pool -> fc -> conv-BN-ReLU (-> sigmoid)
        pooled = x.mean(dim=(2, 3))
        expected = m.conv(m.fc(pooled)[:, :, None, None])
        expected = torch.sigmoid(expected) if sigmoid else expected
    assert y.shape == x.shape and factors.shape == (2, 24, 1, 1)
    assert torch.allclose(factors, expected, atol=1e-6)
    ratio = y / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)  # constant over space
    assert torch.allclose(ratio[:, :, 0, 0], factors[:, :, 0, 0], atol=1e-5)
    assert ratio[:, :, 0, 0].unique().numel() > 1  # per channel, not one global scale
    if sigmoid:
        assert ((factors > 0) & (factors < 1)).all()
    else:
        assert (factors >= 0).all()


def test_fc_attention_trains_on_batch_of_one():
    m = FCAttention(16, fc_dim=20).train()
    assert m(torch.randn(1, 16, 4, 4)).shape == (1, 16, 4, 4)


def test_xception_block_is_its_shortcut_at_initialisation():
    torch.manual_seed(0)
    block = XceptionBlock(16, 16).eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), torch.relu(x))


@pytest.mark.parametrize("name", ["dfanet_a", "dfanet_b"])
def test_cascaded_dfanet_gradients_stay_bounded_at_initialisation(name):
    # Without the zero-initialised residual norms the three cascaded backbones reach ~1e10.
    import archlab
    torch.manual_seed(0)
    model = archlab.create_model(name, num_classes=5).train()
    x, target = torch.randn(2, 3, 128, 256), torch.randint(0, 5, (2, 128, 256))
    torch.nn.functional.cross_entropy(model(x), target).backward()
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert norm < 1e3
