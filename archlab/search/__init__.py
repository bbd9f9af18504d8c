"""Multi-objective architecture search with Optuna (NSGA-II): declarative spaces, resumable shared storage.

    python -m archlab.search search_fassd --trials 20                 # zero-cost proxy, CPU latency
    python -m archlab.search search_fassd --trials 200 --workers 2    # two processes, one journal file
    python -m archlab.search search_fassd --export                    # front.csv/png, hypervolume.csv/png

A space (:class:`SearchSpace`, in ``studies/NAME.py`` as ``SEARCH``) names a base network, its
knobs and the block options of each slot, the objectives and the constraints (:mod:`.space`).
Each trial's network is measured by :mod:`.objective` (latency or MACs; a zero-cost proxy or a
short training), the study lives in an Optuna storage (:mod:`.storage`: SQLite, a journal file or
PostgreSQL, with heartbeats so a killed worker's trial is retried), :mod:`.runner` runs the
workers (one per ``--devices`` slot when given), :mod:`.export` writes the front and
:mod:`.hypervolume` measures it. :mod:`.fidelity` schedules successive halving over the training
budget (``--fidelity sh``) and :mod:`.fidelity_report` compares it with full-budget training.
:mod:`.optuna_compat` holds every use of Optuna's private names (the one file to adapt when an
Optuna upgrade moves one).
"""
from archlab.search.space import (CONSTRAINTS, KNOB_NAMES, METRICS, Knob, SearchError, SearchSpace, Slot,
                                  accuracy_choices, list_spaces, load_space, parse_accuracy)

__all__ = ["CONSTRAINTS", "KNOB_NAMES", "METRICS", "Knob", "SearchError", "SearchSpace", "Slot", "accuracy_choices",
           "list_spaces", "load_space", "parse_accuracy"]


def __getattr__(name):
    """``run_search``, ``SearchSettings`` and ``Objectives`` on first use (they import Optuna and torch)."""
    if name in ("run_search", "SearchSettings"):
        from archlab.search import runner

        return getattr(runner, name)
    if name == "Objectives":
        from archlab.search.objective import Objectives

        return Objectives
    raise AttributeError(f"module 'archlab.search' has no attribute {name!r}")
