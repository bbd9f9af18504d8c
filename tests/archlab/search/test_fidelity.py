import math
import sys
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from archlab.errors import ArchlabError
from archlab.search import fidelity
from archlab.search.fidelity import FidelityError, Schedule, due_promotions, promotion_order, train_to
from archlab.search.optuna_compat import CONSTRAINT_PREFIX
from archlab.search.runner import SearchSettings, front_of, run_search
from archlab.search.space import SearchError

sys.path.insert(0, str(Path(__file__).parent))
from search_fixtures import TINY_TRAIN, TRAINED  # noqa: E402

SPACE = replace(TRAINED, reference_study=None)      # the export trains no hand-designed point


# -- the schedule ---------------------------------------------------------------------------------------------


def test_rungs_are_min_steps_times_powers_of_eta_capped_at_the_budget():
    s = Schedule.make(max_steps=60, eta=3, min_steps=7)
    assert s.rungs == (7, 21, 60) and s.bracket == 9                 # default bracket eta^(rungs - 1)
    assert Schedule.make(max_steps=60, eta=3, min_steps=6).rungs == (6, 18, 54, 60)
    assert Schedule.make(max_steps=60, eta=3).min_steps == 7          # ceil(60 / 9)
    assert Schedule.make(max_steps=8, eta=2, min_steps=1).rungs == (1, 2, 4, 8)
    assert Schedule.make(max_steps=60, eta=4, min_steps=30).rungs == (30, 60)
    # 9 points: 9 at rung 0, 3 at rung 1, 1 at rung 2; a second, partial bracket of 4: 4, 1, 1
    assert s.expected_trials(9) == 13 and s.expected_trials(13) == 13 + 6


@pytest.mark.parametrize("kwargs, message", [
    ({"eta": 1}, "--eta 1 must be an integer >= 2"),
    ({"eta": 2.5}, "--eta 2.5 must be an integer >= 2"),
    ({"min_steps": 60}, "--min-steps 60 must be a positive integer below the full budget of 60 steps"),
    ({"min_steps": 0}, "--min-steps 0 must be a positive integer"),
    ({"bracket": 2}, "--bracket 2 must be an integer >= --eta \\(3\\)"),
])
def test_bad_schedules_are_one_line_errors(kwargs, message):
    with pytest.raises(FidelityError, match=message):
        Schedule.make(max_steps=60, **kwargs)


def test_schedule_options_need_each_other():
    assert fidelity.schedule_for(None, accuracy="proxy:naswot", max_steps=60) is None
    with pytest.raises(FidelityError, match="--eta, --min-steps only apply with --fidelity sh"):
        fidelity.schedule_for("none", accuracy="miou", max_steps=60, eta=3, min_steps=5)
    with pytest.raises(FidelityError, match="accuracy 'proxy:naswot' trains nothing; add --objective miou"):
        fidelity.schedule_for("sh", accuracy="proxy:naswot", max_steps=60)
    with pytest.raises(FidelityError, match="--fidelity 'hb' is not known; valid: none, sh"):
        fidelity.schedule_for("hb", accuracy="miou", max_steps=60)


# -- ranking and promotion (hand-made points) -------------------------------------------------------------------


def test_promotion_order_is_constrained_nondominated_rank_then_crowding_then_accuracy():
    #            0     1     2     3     4     5
    cost = [1.0, 2.0, 3.0, 2.0, 2.5, 0.5]
    acc = [0.5, 0.6, 0.7, 0.4, 0.65, 0.9]
    violation = [0, 0, 0, 0, 0, 1.0]          # 5 dominates every point but breaks a constraint
    assert fidelity.nondominated_ranks(cost[:5], acc[:5]).tolist() == [0, 0, 0, 1, 0]
    order = promotion_order(cost, acc, violation)
    # rank 0 = {0, 1, 2, 4}: the extremes 0 and 2 (infinite crowding) first, the higher accuracy (2) before 0;
    # then 1 (gaps between its neighbours (2.5-1)/2 + (0.65-0.5)/0.2 = 1.5) before 4 ((3-2)/2 + (0.7-0.6)/0.2 = 1.0)
    assert order == [2, 0, 1, 4, 3, 5]
    assert promotion_order([1, 1], [0.5, 0.5]) == [0, 1]                 # full ties: the earlier trial
    assert promotion_order([1, 2], [0.5, 0.6], [0.3, 0.1]) == [1, 0]     # infeasible only: smaller violation first


def _trial(number, cost, acc, *, rung=0, bracket=0, state=TrialState.COMPLETE, violation=-1.0, point=None,
           promoted_from=None):
    point = point if point is not None else f"p{number}"
    attrs = {"rung": rung, "rung_steps": (1, 3, 9)[rung], "bracket": bracket, "rung_final": rung == 2}
    if promoted_from is not None:
        attrs["promoted_from"] = promoted_from
    trial = optuna.trial.create_trial(
        state=state, values=[cost, acc] if state == TrialState.COMPLETE else None, params={"x": point},
        distributions={"x": CategoricalDistribution([point])}, user_attrs=attrs,
        system_attrs={f"{CONSTRAINT_PREFIX}params_M": violation})
    trial.number = number
    return trial


def test_due_promotions_wait_for_a_whole_rung_and_keep_the_best_third():
    schedule = Schedule.make(max_steps=9, eta=3, min_steps=1, bracket=6)
    rung0 = [_trial(0, 1.0, 0.5), _trial(1, 2.0, 0.6), _trial(2, 3.0, 0.7), _trial(3, 2.0, 0.4), _trial(4, 2.5, 0.65),
             _trial(5, 0.5, 0.9, violation=1.0)]
    assert due_promotions(rung0[:5], schedule, target=10) == []             # the bracket still takes points
    running = rung0[:5] + [_trial(5, 0, 0, state=TrialState.RUNNING)]
    assert due_promotions(running, schedule, target=10) == []              # a rung member still runs
    due = due_promotions(rung0, schedule, target=10)
    assert [(t.number, rung) for t, rung in due] == [(2, 1), (0, 1)]       # floor(6 / 3) = 2, by promotion_order
    # a partial bracket closes when the target is met: 2 points still promote max(1, 2 // 3) = 1
    assert [t.number for t, _ in due_promotions(rung0[:2], schedule, target=2)] == [1]
    # promoted once: with 2 and 0 at rung 1 (0 finished, 2 running) nothing more is due; when both are done, 1 of 2
    above = [_trial(6, 3.0, 0.75, rung=1, promoted_from=2, point="p2"),
             _trial(7, 1.0, 0.55, rung=1, promoted_from=0, point="p0", state=TrialState.RUNNING)]
    assert due_promotions(rung0 + above, schedule, target=6) == []
    above[1] = _trial(7, 1.0, 0.55, rung=1, promoted_from=0, point="p0")
    due = due_promotions(rung0 + above, schedule, target=6)
    assert [(t.number, rung) for t, rung in due] == [(6, 2)]               # both extremes; the higher accuracy
    # a point drawn twice is promoted once: 2's twin (same point, same figures) leaves the second place to 0
    twins = rung0[:5] + [_trial(5, 3.0, 0.7, point="p2")]
    assert [t.params["x"] for t, _ in due_promotions(twins, schedule, target=6)] == ["p2", "p0"]
    failed = [_trial(n, 0, 0, state=TrialState.FAIL) for n in range(6)]
    assert due_promotions(failed, schedule, target=6) == []                # nothing to promote: the bracket ends


# -- stopping and resuming a training ---------------------------------------------------------------------------------


def test_stop_at_a_rung_then_resume_equals_one_uninterrupted_training(tmp_path):
    from archlab.train import TrainConfig, train
    from archlab.train.loop import CHECKPOINT_FILE

    spec = TRAINED.spec({"context": "none", "fusion": "plain", "width": 0.5})
    config = TrainConfig(**TINY_TRAIN)                           # 9 steps
    whole = train(spec, config, out=tmp_path / "whole", progress=False, threads=1)

    rung = train_to(spec, config, tmp_path / "sh", 3, threads=1)
    assert rung["train_steps"] == 3 and rung["status"] == "ok" and math.isfinite(rung["miou"])
    assert rung["weights_sha256"] != whole["weights_sha256"]
    assert train_to(spec, config, tmp_path / "sh", 3, threads=1)["rung_reused"] is True       # not trained again
    final = train_to(spec, config, tmp_path / "sh", 9, threads=1)
    assert final["train_steps"] == 9
    assert final["weights_sha256"] == whole["weights_sha256"] and final["miou"] == whole["miou"]
    # the rung evaluation is the trainer's own: evaluated the same way, the final checkpoint gives the trainer's mIoU
    again = fidelity.evaluate_checkpoint(tmp_path / "whole" / CHECKPOINT_FILE, config, threads=1)
    assert again["miou"] == whole["miou"] and again["weights_sha256"] == whole["weights_sha256"]
    # a rung the run went past without evaluating it
    with pytest.raises(ArchlabError, match="holds a training past step 6 \\(9\\) without that rung's evaluation"):
        train_to(spec, config, tmp_path / "sh", 6, threads=1)


# -- a whole search ---------------------------------------------------------------------------------------------------


def test_a_search_with_successive_halving(tmp_path):
    from archlab.search.export import export
    from archlab.search.storage import open_storage, resolve_storage

    settings = SearchSettings(trials=6, out=tmp_path, runs_dir=tmp_path / "runs", progress=False, threads=1,
                              fidelity="sh", eta=3, min_steps=1, bracket=3)
    result = run_search(SPACE, settings)
    study = optuna.load_study(study_name="tiny_search", storage=open_storage(resolve_storage(None, tmp_path)))
    trials = study.get_trials()
    by_number = {t.number: t for t in trials}
    assert result.trials == 6 and all(t.state == TrialState.COMPLETE for t in trials)
    rungs = [t.user_attrs["rung"] for t in trials]
    assert rungs.count(0) == 6 and rungs.count(1) == 2 and rungs.count(2) == 2       # 2 brackets of 3: 3, 1, 1
    assert result.final == 2 and study.user_attrs["archlab:fidelity"]["rungs"] == [1, 3, 9]
    for t in trials:
        record = t.user_attrs["record"]
        assert record["rung_steps"] == t.user_attrs["rung_steps"] == (1, 3, 9)[t.user_attrs["rung"]]
        assert record["train_steps"] == t.user_attrs["rung_steps"]
        if "cached_from" in record:                                  # never copied across rungs
            assert by_number[record["cached_from"]].user_attrs["rung_steps"] == t.user_attrs["rung_steps"]
        history = t.user_attrs["rung_history"]
        assert [h["steps"] for h in history] == [1, 3, 9][:t.user_attrs["rung"] + 1]
        assert history[-1]["trial"] == t.number and history[-1]["miou"] == record["miou"]
        if t.user_attrs["rung"] == 0:
            continue
        parent = by_number[t.user_attrs["promoted_from"]]
        assert parent.params == t.params and parent.user_attrs["rung"] == t.user_attrs["rung"] - 1
        assert parent.user_attrs["bracket"] == t.user_attrs["bracket"]
        assert t.user_attrs["rung_history"][:-1] == parent.user_attrs["rung_history"]
        assert record["macs_fvcore"] == parent.user_attrs["record"]["macs_fvcore"] and record["profile_time_s"] == 0
        # the promoted one is the best of its rung by promotion_order
        rung = [u for u in trials if u.user_attrs["rung"] == parent.user_attrs["rung"]
                and u.user_attrs["bracket"] == parent.user_attrs["bracket"]]
        best = promotion_order([u.values[0] for u in rung], [u.values[1] for u in rung],
                               [max(0.0, u.constraints["params_M"]) for u in rung])[0]
        assert rung[best].params == parent.params
    finals = {t.number for t in trials if t.user_attrs["rung_final"]}
    assert {t.number for t in front_of(trials)} <= finals and {n for n, *_ in result.front} <= finals

    assert run_search(SPACE, settings).ran == 0                         # a rerun reuses every trial
    with pytest.raises(SearchError, match="was run with --fidelity sh --eta 3 --min-steps 1 --bracket 3 .* this run "
                                          "asks for --fidelity sh --eta 2"):
        run_search(SPACE, replace(settings, eta=2))
    with pytest.raises(SearchError, match="this run asks for no --fidelity"):
        run_search(SPACE, replace(settings, fidelity=None, eta=None, min_steps=None, bracket=None))

    export(SPACE, out=tmp_path, threads=1, command="pytest")
    frame = pd.read_csv(tmp_path / "trials.csv")
    assert sorted(frame["rung"].tolist()) == sorted(rungs) and frame["final"].sum() == 2
    assert set(pd.read_csv(tmp_path / "front.csv")["number"]) <= finals
    hv = pd.read_csv(tmp_path / "hypervolume.csv").set_index("number")
    steps = hv["hypervolume"].diff().fillna(hv["hypervolume"].iloc[0])
    assert (steps[~hv["final"]] == 0).all()                               # lower rungs add no hypervolume


def test_successive_halving_with_two_workers_on_cpu_slots(tmp_path):
    from archlab.search.storage import open_storage, resolve_storage

    url = f"journal:{tmp_path / 's.journal'}"
    settings = SearchSettings(trials=4, out=tmp_path, runs_dir=tmp_path / "runs", progress=False, storage=url,
                              devices=("cpu:0", "cpu:1"), fidelity="sh", eta=3, min_steps=1, bracket=3,
                              heartbeat_interval=1, grace_period=30, poll_s=0.2)
    result = run_search(SPACE, settings)
    storage = open_storage(resolve_storage(url, tmp_path))
    trials = optuna.load_study(study_name="tiny_search", storage=storage).get_trials()
    by_number = {t.number: t for t in trials}
    assert all(t.state == TrialState.COMPLETE for t in trials) and result.trials == 4
    # brackets of 3 and 1 points: 3 -> 1 -> 1 and 1 -> 1 -> 1
    assert sorted((t.user_attrs["bracket"], t.user_attrs["rung"]) for t in trials) == \
        [(0, 0), (0, 0), (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert result.ran == 8 and result.final == 2
    for t in trials:
        assert t.user_attrs["record"]["train_steps"] == t.user_attrs["rung_steps"]
        if t.user_attrs["rung"]:
            parent = by_number[t.user_attrs["promoted_from"]]
            assert (parent.user_attrs["bracket"], parent.user_attrs["rung"] + 1, parent.params) == \
                (t.user_attrs["bracket"], t.user_attrs["rung"], t.params)
            below = [u for u in trials if u.user_attrs["bracket"] == t.user_attrs["bracket"]
                     and u.user_attrs["rung"] == t.user_attrs["rung"] - 1]
            assert all(u.datetime_complete <= t.datetime_start for u in below)   # once the whole rung below ended
