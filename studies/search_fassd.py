"""Multi-objective architecture search around FASSD-Net (Rosas-Arias et al., "FASSD-Net: Fast and
Accurate Real-Time Semantic Segmentation for Embedded Systems", ICPR 2020): its width, depth and
DAPF channel divisor, the context module (DAPF, ASPP, PPM or none, as in studies/context_modules.py)
and the decoder fusion (MDA or plain concatenation), searched with NSGA-II (Deb et al., IEEE TEC 2002)
for latency against accuracy under a parameter budget.

The hand-designed points it is compared with are the rows of the paper's ablation
(studies/dapf_vs_aspp.py), evaluated with the same objectives.

    python -m archlab.search search_fassd --trials 20          # zero-cost proxy (naswot), CPU latency
    python -m archlab.search search_fassd --objective miou     # short proxy training per trial
    python -m archlab.search search_fassd --export             # front.csv, front.png, hypervolume.csv/png
"""
from archlab.search import Knob, SearchSpace, Slot
from archlab.study import remove, remove_all, replace

SEARCH = SearchSpace(
    name="search_fassd",
    title="FASSD-Net: width, depth, context module and decoder fusion",
    base="fassd_net",
    knobs=(
        Knob("width", 0.5, 1.25, step=0.25),
        Knob("depth", 0.5, 1.5, step=0.5),
        Knob("alpha", choices=(1, 2, 4, 8), when={"context": "dapf"}),
    ),
    slots=(
        Slot("context", {"dapf": (), "aspp": (replace("context", block="aspp"),),
                         "ppm": (replace("context", block="ppm"),), "none": (remove("context"),)}),
        Slot("fusion", {"mda": (), "plain": (remove_all("mda"),)}),
    ),
    metric="latency",
    accuracy="proxy:naswot",
    size=(256, 512),
    latency_runs=5,
    latency_warmup=1,
    train={"size": (128, 256), "steps": 60, "batch": 8, "warmup_steps": 6, "eval_length": 50},
    constraints={"params_M": 4.0},
    reference_study="dapf_vs_aspp",
    population_size=8,
    description="Latency of one 256x512 image on the device (median of 5 after 1 warm-up); accuracy from naswot "
                "on 8 synthstreets images at 64x128 by default, or a 60-step training at 128x256 (--objective miou).",
)
