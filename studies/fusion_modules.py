"""Fusion of a high-resolution and a low-resolution branch at one place (Fast-SCNN's feature fusion):
Fast-SCNN's FFM (Poudel et al., BMVC 2019, Sec. 3.2.3), FASSD-Net's MDA on the upsampled
concatenation (Rosas-Arias et al., ICPR 2020, Sec. III-C) and FANet's fast-attention fusion
(Hu et al., 2020, Sec. III-B: fast attention on each branch, the coarse one projected and
upsampled onto the fine one, then a 3x3 smoothing conv).
"""
from archlab.study import Study, Variant, substitute

MDA_FUSION = substitute("ffm", [
    ("ffm_cat", "concat", {"size_from": 1}, ["context", "ltd"]),
    ("ffm_reduce", "conv_bn_act", {"out_channels": 128, "kernel_size": 1}, ["ffm_cat"]),
    ("ffm", "mda", {"dilation": 2}, ["ffm_reduce"]),
])
ATTENTION_FUSION = substitute("ffm", [
    ("ffm_att_low", "fast_attention", {}, ["context"]),
    ("ffm_up", "conv_bn_act", {"out_channels": 64, "kernel_size": 1}, ["ffm_att_low"]),
    ("ffm_att_high", "fast_attention", {}, ["ltd"]),
    ("ffm", "fanet_fusion_up", {"up": False, "smooth": True, "smooth_channels": 128}, ["ffm_att_high", "ffm_up"]),
])

STUDY = Study(
    name="fusion_modules",
    title="Fusion modules at Fast-SCNN's feature fusion",
    base="fast_scnn",
    variants=(
        Variant("FFM (Fast-SCNN)", (), published="zoo"),
        Variant("MDA fusion", (MDA_FUSION,)),
        Variant("fast-attention fusion", (ATTENTION_FUSION,)),
    ),
    baseline="FFM (Fast-SCNN)",
    size=(1024, 2048),
    train={"size": (128, 256), "steps": 200, "batch": 8, "warmup_steps": 10, "eval_length": 100},
    latency_runs=5,
    latency_warmup=1,
    description="All three fuse the learning-to-downsample output (1/8, 64 channels) with the context output "
                "(1/32, 128 channels) into 128 channels at 1/8 for the same classifier.",
)
