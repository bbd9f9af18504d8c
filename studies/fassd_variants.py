"""FASSD-Net and its light versions (Rosas-Arias et al., ICPR 2020, Sec. IV-D), as the authors'
FASSDNetL1.py and FASSDNetL2.py build them: L1 gives the first stem conv stride 3; L2 strides the
second and third stem convs and replaces the decoder's HarD blocks with 3x3 convs to 64 channels.
"""
from archlab.study import Study, Variant

STUDY = Study(
    name="fassd_variants",
    title="FASSD-Net, -L1 and -L2 at 1024x2048",
    base="fassd_net",
    variants=(
        Variant("FASSD-Net", published="zoo"),
        Variant("FASSD-Net-L1", base="fassd_net_l1", published="zoo"),
        Variant("FASSD-Net-L2", base="fassd_net_l2", published="zoo"),
    ),
    baseline="FASSD-Net",
    size=(1024, 2048),
    # a multiple of 32 that leaves FASSD-Net-L2's 1/64 bottom 3x6 pixels
    train={"size": (192, 384), "steps": 100, "batch": 8, "warmup_steps": 10, "eval_length": 100},
    latency_runs=5,
    latency_warmup=1,
    description="L1 and L2 as the authors' code builds them (L2: stem strides 2, 2, 2, 1, so DAPF runs at "
                "1/64; see docs/architecture.md).",
)
