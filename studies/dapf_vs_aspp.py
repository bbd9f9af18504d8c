"""FASSD-Net's ablation (Rosas-Arias et al., "FASSD-Net: Fast and Accurate Real-Time Semantic
Segmentation for Embedded Systems", ICPR 2020, Table I): DAPF against ASPP as the context module,
with and without the MDA decoder modules, on the truncated FC-HarDNet-70 encoder.

Six rows are transforms of ``fassd_net`` (= baseline + DAPF + MDA); FC-HarDNet-70, the network
the paper starts from, has one more encoder and decoder stage and is its own zoo model.
"""
from archlab.study import Reference, Study, Variant, remove, remove_all, replace
from archlab.zoo.fassd import ABLATION_PUBLISHED

STUDY = Study(
    name="dapf_vs_aspp",
    title="FASSD-Net ablation: DAPF vs ASPP, with and without MDA",
    base="fassd_net",
    variants=(
        Variant("FC-HarDNet-70", base="fc_hardnet70", published="fc_hardnet70",
                note="the reference network: five encoder stages, no context module, no MDA"),
        Variant("baseline", (remove("context"), remove_all("mda")), published="baseline",
                note="truncated encoder and decoder, no DAPF, no MDA"),
        Variant("+ASPP", (replace("context", block="aspp"), remove_all("mda")), published="aspp"),
        Variant("+DAPF", (remove_all("mda"),), published="dapf"),
        Variant("+MDA", (remove("context"),), published="mda"),
        Variant("+ASPP+MDA", (replace("context", block="aspp"),), published="aspp_mda"),
        Variant("+DAPF+MDA (FASSD-Net)", (), published="dapf_mda"),
    ),
    reference=Reference(
        source="Rosas-Arias et al., ICPR 2020, Table I",
        rows=ABLATION_PUBLISHED,
        notes="Cityscapes val at 1024x2048; FPS on a GTX 1080Ti, fp32, batch 1 (cudnn.benchmark on); the paper's "
              "'GFLOPs' are ptflops multiply-accumulates, i.e. GMACs.",
    ),
    baseline="baseline",
    size=(1024, 2048),
    train={"size": (128, 256), "steps": 100, "batch": 8, "warmup_steps": 10, "eval_length": 100},
    latency_runs=5,
    latency_warmup=1,
    seeds=3,
    calibration=({"steps": 50}, {"steps": 100}),
    scale_note="Training at that size costs about 42 times the default's pixels per step (832x1664 against "
               "128x256), hours per variant and seed on two CPU cores, so the default stays at 128x256: the "
               "flagged rows' proxy mIoU trains ASPP, DAPF and MDA with some branches reading only padding, "
               "and does not judge those blocks as they work at 1024x2048.",
    description="Rows as in the paper's Table I. Measured: counts at the paper's 1024x2048 input, latency on the "
                "device used, and a proxy mIoU from a short training on synthstreets.",
)
