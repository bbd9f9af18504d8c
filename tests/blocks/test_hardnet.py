import torch

from archlab.blocks.hardnet import HarDBlock, HarDNetStage, HarDNetStem, hard_layer_width, hard_links


def test_harmonic_links():
    assert hard_links(1) == [0]
    assert hard_links(2) == [1, 0]
    assert hard_links(4) == [3, 2, 0]
    assert hard_links(6) == [5, 4]
    assert hard_links(8) == [7, 6, 4, 0]


def test_layer_widths_follow_growth_times_grmul_rounded_even():
    assert [hard_layer_width(k, 10, 1.7) for k in (1, 2, 3, 4)] == [10, 18, 10, 28]
    assert hard_layer_width(8, 24, 1.7) == 118


def test_block_output_channels_match_fc_hardnet():
    # FC-HarDNet-70's encoder blocks: 48, 78, 160, 214 output channels (the decoder's skip widths)
    outs = [HarDBlock(c, gr, n).out_channels for c, gr, n in ((48, 10, 4), (64, 16, 4), (96, 18, 8), (160, 24, 8))]
    assert outs == [48, 78, 160, 214]


def test_block_runs_and_params():
    m = HarDBlock(8, 4, 4)
    # layer widths 4, 6 (4*1.7=6.8 -> 6), 4, 12 (4*2.89=11.56 -> 12); inputs 8, 4+8, 6, 4+6+8
    widths_in = [(8, 4), (12, 6), (6, 4), (18, 12)]
    assert sum(p.numel() for p in m.parameters()) == sum(i * o * 9 + 2 * o for i, o in widths_in)
    assert m(torch.randn(1, 8, 16, 16)).shape == (1, 4 + 4 + 12, 16, 16)


def test_stage_has_pooled_output_and_skip():
    stage = HarDNetStage(48, 10, 4, 64, pool=True)
    main, skip = stage(torch.randn(1, 48, 32, 32))
    assert main.shape == (1, 64, 16, 16) and skip.shape == (1, 48, 32, 32)
    assert stage.out_channels == (64, 48) and stage.stride == (2, 1)


def test_stem_strides_multiply():
    assert HarDNetStem(3).stride == 4
    assert HarDNetStem(3, strides=[3, 1, 2, 1]).stride == 6  # FASSD-Net-L1
    assert HarDNetStem(3, strides=[2, 2, 2, 1]).stride == 8  # FASSD-Net-L2
    assert HarDNetStem(3)(torch.randn(1, 3, 64, 64)).shape == (1, 48, 16, 16)
