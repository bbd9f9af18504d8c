"""Every seed architecture of the zoo on one frontier, each row beside its paper's own figures."""
import archlab
from archlab.study import Study, Variant

STUDY = Study(
    name="seed_zoo",
    title="The seed architectures on one frontier",
    base="fast_scnn",
    variants=tuple(Variant(name, base=name, published="zoo") for name in archlab.list_models()),
    size=(1024, 2048),
    # the smallest input every seed network accepts (FASSD-Net-L2's stem strides 3 and 2)
    train={"size": (192, 384), "steps": 100, "batch": 8, "warmup_steps": 10, "eval_length": 100},
    latency_runs=5,
    latency_warmup=1,
    seeds=1,
    description="Published figures are each paper's own (different GPUs, test or val splits, counters): read "
                "them per row, not across rows. Measured figures are all from this run.",
)
