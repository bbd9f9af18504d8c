"""Context modules at the bottom of two encoders: PPM (Zhao et al., PSPNet, CVPR 2017), ASPP
(Chen et al., DeepLab v3, 2017), DAPF at alpha 1, 2, 4 and 8 (Rosas-Arias et al., FASSD-Net,
ICPR 2020, Sec. III-B) and none, swapped in for Fast-SCNN's pyramid pooling and FASSD-Net's DAPF.
"""
from archlab.study import Study, Variant, remove, replace

MODULES = (("PPM", ("ppm", {})), ("ASPP", ("aspp", {})), ("DAPF a=1", ("dapf", {"alpha": 1})),
           ("DAPF a=2", ("dapf", {"alpha": 2})), ("DAPF a=4", ("dapf", {"alpha": 4})),
           ("DAPF a=8", ("dapf", {"alpha": 8})), ("none", None))


#: Each network's own context module: the row the others on that network are compared against.
ORIGINAL = {"fast_scnn": "PPM", "fassd_net": "DAPF a=2"}


def _variants(base: str, label: str):
    original = f"{label} + {ORIGINAL[base]}"
    for name, module in MODULES:
        ops = (remove("context"),) if module is None else (replace("context", block=module[0], **module[1]),)
        yield Variant(f"{label} + {name}", ops, base=base, baseline=original)


STUDY = Study(
    name="context_modules",
    title="Context modules on Fast-SCNN and FASSD-Net",
    base="fast_scnn",
    variants=(*_variants("fast_scnn", "Fast-SCNN"), *_variants("fassd_net", "FASSD-Net")),
    size=(1024, 2048),
    train={"size": (128, 256), "steps": 100, "batch": 8, "warmup_steps": 10, "eval_length": 100},
    latency_runs=5,
    latency_warmup=1,
    seeds=3,
    calibration=({"steps": 50}, {"steps": 100}),
    scale_note="Both encoders put the context module at 1/32 of the input, so only inputs near the measuring "
               "size give ASPP's and DAPF's largest rates a map to read; training there is not affordable on two "
               "CPU cores, and the flagged rows' proxy mIoU does not judge those branches.",
    description="Each context module replaces the `context` node (Fast-SCNN: PPM at 1/32, 128 channels; "
                "FASSD-Net: DAPF at 1/32, 320 channels); the graph infers every channel count. Each row is "
                "compared with its own network's original module (Fast-SCNN + PPM, FASSD-Net + DAPF a=2). No "
                "paper publishes this grid, so there are no published columns.",
)
