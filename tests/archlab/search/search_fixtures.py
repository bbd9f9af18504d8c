"""Test-only pieces shared by the search tests and the worker processes they start.

Importable once this folder is on sys.path (the tests put it there, and in PYTHONPATH for their
subprocesses): tiny search spaces (64x128, MACs and the parameter-count proxy, so a trial takes
about a second), the objective hook ``search_fixtures:sleepy`` that marks and sleeps so a test can
kill a worker mid-trial, the hook ``search_fixtures:barrier`` that holds each worker's first trial
until every worker has one (so a test sees every worker measure), ``TRAINED``: the tiny space
with a training of a few steps at 32x64 as its accuracy (multi-fidelity tests), and
``python search_fixtures.py OUT TRIALS STORAGE [WORKERS]`` to run a search.

Hook settings by environment: SLOW_HOOK_DIR (a marker file per call, named by pid and spec hash)
and SLOW_HOOK_SECONDS (how long to sleep; 0 by default); BARRIER_DIR and BARRIER_WORKERS (how many
distinct processes must have called before any goes on; at most 120 s).
"""
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from archlab.search import Knob, SearchSpace, Slot
from archlab.study import remove, remove_all

TINY = SearchSpace(
    name="tiny_search", title="tiny test space", base="fassd_net",
    knobs=(Knob("width", choices=(0.5, 1.0)), Knob("alpha", choices=(2, 8), when={"context": "dapf"})),
    slots=(Slot("context", {"dapf": (), "none": (remove("context"),)}),
           Slot("fusion", {"mda": (), "plain": (remove_all("mda"),)})),
    metric="macs", accuracy="proxy:params", size=(64, 128),
    proxy={"dataset": "synthstreets", "size": (64, 128), "batch": 2, "seed": 0},
    constraints={"params_M": 2.5}, reference_study="dapf_vs_aspp", population_size=2,
)
SLOW = replace(TINY, objective_hook="search_fixtures:sleepy")
# a continuous width: two workers never draw the same point (a copied record would name the other's slot)
PINNED = replace(TINY, knobs=(Knob("width", 0.5, 1.0),), objective_hook="search_fixtures:barrier")
TINY_TRAIN = {"size": (32, 64), "steps": 9, "batch": 2, "warmup_steps": 1, "eval_length": 2, "train_length": 4}
TRAINED = replace(TINY, accuracy="miou", train=TINY_TRAIN)


def sleepy(spec, record):
    folder = os.environ.get("SLOW_HOOK_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{os.getpid()}-{spec.content_hash()}").write_text(spec.name)
    time.sleep(float(os.environ.get("SLOW_HOOK_SECONDS", "0")))
    record["hook_called"] = True
    return record


def barrier(spec, record):
    folder = os.environ.get("BARRIER_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / str(os.getpid())).write_text(spec.name)
        deadline, wanted = time.time() + 120, int(os.environ.get("BARRIER_WORKERS", "2"))
        while len(list(Path(folder).iterdir())) < wanted and time.time() < deadline:
            time.sleep(0.1)
    return record


def main(argv):
    from archlab.search.runner import SearchSettings, run_search

    out, trials, storage = Path(argv[0]), int(argv[1]), argv[2]
    workers = int(argv[3]) if len(argv) > 3 else 1
    space = SLOW if os.environ.get("SLOW_HOOK") else TINY
    settings = SearchSettings(trials=trials, storage=None if storage == "default" else storage, out=out,
                              workers=workers, heartbeat_interval=1, grace_period=3, poll_s=0.5, progress=False,
                              threads=1)
    result = run_search(space, settings)
    print(f"ran={result.ran} trials={result.trials} retried={result.retried}")


if __name__ == "__main__":
    main(sys.argv[1:])
