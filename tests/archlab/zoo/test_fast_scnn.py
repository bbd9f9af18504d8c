"""Fast-SCNN (Poudel et al., BMVC 2019) against the widely used public implementation."""
import torch

import archlab
from archlab.profile.counters import count_params, fvcore_macs
from archlab.zoo import model_entry

# github.com/Tramac/Fast-SCNN-pytorch, models/fast_scnn.py, FastSCNN(19) (aux=False): parameters
# summed over model.parameters(); MACs from fvcore's FlopCountAnalysis(...).total() at
# 1x3x1024x2048 in eval mode.
PUBLIC_PARAMS = 1_138_051
PUBLIC_FVCORE_MACS = 7_104_720_928


def test_parameters_equal_the_public_code():
    model = archlab.create_model("fast_scnn")
    assert count_params(model) == PUBLIC_PARAMS
    # the feature fusion's two 1x1 convs carry a bias before their BN there (and here)
    ffm = model.nodes["ffm"]
    assert ffm.low[1][0].bias is not None and ffm.high[0].bias is not None
    assert count_params(archlab.build(archlab.transforms.replace(archlab.get_spec("fast_scnn"), "ffm", bias=False))) \
        == PUBLIC_PARAMS - 2 * 128
    # the paper's 1.11 M is the count without BN's affine parameters (with them, +2.5%)
    bn_affine = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters())
    assert bn_affine == 23_680
    assert round((PUBLIC_PARAMS - bn_affine) / 1e6, 2) == model_entry("fast_scnn").published["params_M"] == 1.11


def test_macs_equal_the_public_code_but_for_the_first_conv_padding():
    """The public code's first 3x3 stride-2 conv (3 -> 32, BN) has no padding: 511x1023 outputs
    where Table 1 of the paper and ours have 512x1024 (the next conv pads, so the maps agree from
    there on). fvcore counts 27 MACs per output per channel for the conv and 2 for its BN."""
    macs = fvcore_macs(archlab.create_model("fast_scnn").eval(), (1, 3, 1024, 2048))
    first_conv_border = 512 * 1024 - 511 * 1023
    assert macs - PUBLIC_FVCORE_MACS == first_conv_border * 32 * (27 + 2) == 1_424_480
