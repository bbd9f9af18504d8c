"""The Optuna private names and internals archlab uses (all of them in archlab.search.optuna_compat)
still exist and behave as used, on real in-memory, SQLite and journal storages; and no other file
of the archlab package touches an Optuna private name.

A failure here after an Optuna upgrade names the Optuna version and the private name: adapt
archlab/search/optuna_compat.py (and only it) to the new version.
"""
from __future__ import annotations

import ast
import contextlib
import re
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from archlab.search import optuna_compat as compat

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

ROOT = Path(__file__).resolve().parents[3]
VERSION = optuna.__version__
STORAGES = ("memory", "sqlite", "journal")

# every name optuna_compat declares, and the test below that checks it
CHECKED = {
    "optuna.storages._heartbeat.BaseHeartbeat": "test_base_heartbeat_is_the_protocol_fail_stale_trials_checks_for",
    "BaseHeartbeat._get_stale_trial_ids": "test_get_stale_trial_ids_is_the_hook_fail_stale_trials_calls",
    "Trial._trial_id": "test_trial_and_study_ids",
    "FrozenTrial._trial_id": "test_trial_and_study_ids",
    "Study._study_id": "test_trial_and_study_ids",
    "Trial.storage": "test_trial_and_study_ids",
    "optuna.study._constrained_optimization._CONSTRAINTS_KEY":
        "test_constraints_inherited_by_a_retry_are_overwritten",
    "system attribute 'failed_trial'": "test_constraints_inherited_by_a_retry_are_overwritten",
    "system attribute 'retry_history'": "test_constraints_inherited_by_a_retry_are_overwritten",
    "warning 'Heartbeat of storage ...'": "test_the_heartbeat_warning_of_ask_is_silenced",
}


@contextlib.contextmanager
def private(name: str):
    """Any failure inside becomes one that names the Optuna version and the private name."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - AttributeError, ImportError, TypeError, AssertionError...
        use = compat.PRIVATE_NAMES.get(name) or compat.INTERNALS.get(name)
        pytest.fail(f"Optuna {VERSION}: {name} is gone or behaves otherwise ({type(exc).__name__}: {exc}); "
                    f"archlab uses it for {use}. Adapt archlab/search/optuna_compat.py to Optuna {VERSION}.",
                    pytrace=False)


def make_storage(kind: str, tmp_path: Path, **heartbeat):
    """A fresh storage of ``kind`` (RDBStorage takes ``heartbeat_interval`` / ``grace_period``)."""
    if kind == "memory":
        return InMemoryStorage()
    if kind == "sqlite":
        return RDBStorage(f"sqlite:///{tmp_path / 'study.db'}", **heartbeat)
    return JournalStorage(JournalFileBackend(str(tmp_path / "study.journal")))


def test_every_name_is_checked():
    declared = set(compat.PRIVATE_NAMES) | set(compat.INTERNALS)
    assert declared == set(CHECKED), "a name of optuna_compat without a check here, or a check of a name it dropped"
    assert all(name in globals() for name in CHECKED.values())


def test_base_heartbeat_is_the_protocol_fail_stale_trials_checks_for(tmp_path):
    name = "optuna.storages._heartbeat.BaseHeartbeat"
    with private(name):
        from optuna.storages._heartbeat import BaseHeartbeat

        assert compat.BaseHeartbeat is BaseHeartbeat
        rdb = make_storage("sqlite", tmp_path, heartbeat_interval=60)
        assert isinstance(rdb, BaseHeartbeat), "RDBStorage no longer implements it"
        wanted = {"record_heartbeat", "_get_stale_trial_ids", "get_heartbeat_interval",
                  "get_heartbeat_stale_trial_callback"}
        assert set(BaseHeartbeat.__abstractmethods__) == wanted, (
            f"its abstract methods are now {sorted(BaseHeartbeat.__abstractmethods__)}, not {sorted(wanted)}")


class BeatingMemory(InMemoryStorage, compat.HeartbeatStorage):
    """An in-memory storage whose every RUNNING trial is stale: what HeartbeatJournalStorage does, at no cost."""

    def __init__(self):
        super().__init__()
        self.asked = []
        self.callback = RetryHeartbeatStaleTrialCallback(max_retry=1)

    def record_heartbeat(self, trial_id: int) -> None:
        pass

    def stale_trial_ids(self, study_id: int) -> list[int]:
        self.asked.append(study_id)
        return [compat.trial_id(t) for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))]

    def get_heartbeat_interval(self) -> int | None:
        return 1

    def get_heartbeat_stale_trial_callback(self):
        return self.callback


def test_get_stale_trial_ids_is_the_hook_fail_stale_trials_calls(tmp_path):
    name = "BaseHeartbeat._get_stale_trial_ids"
    with private(name):
        storage = BeatingMemory()                # abstract (TypeError) if the hook was renamed
        study = optuna.create_study(storage=storage)
        with compat.heartbeat_ask_warning_ignored():
            trial = study.ask()
        trial.suggest_float("x", 0, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        assert storage.asked == [storage.get_study_id_from_name(study.study_name)], "fail_stale_trials did not ask"
        assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
        assert compat.stale_trial_ids(storage, study) == []
    with private(name):                          # RDBStorage's own hook, as the tests use it
        rdb = make_storage("sqlite", tmp_path, heartbeat_interval=60, grace_period=120)
        study = optuna.create_study(storage=rdb)
        with compat.heartbeat_ask_warning_ignored():
            trial = study.ask()
        rdb.record_heartbeat(compat.trial_id(trial))
        assert compat.stale_trial_ids(rdb, study) == []
    with pytest.raises(TypeError, match="no heartbeats"):
        compat.stale_trial_ids(InMemoryStorage(), study)


@pytest.mark.parametrize("kind", STORAGES)
def test_trial_and_study_ids(tmp_path, kind):
    storage = make_storage(kind, tmp_path)
    first = optuna.create_study(storage=storage, study_name="first")
    first.ask()
    study = optuna.create_study(storage=storage, study_name="second")   # ids now differ from numbers
    study.ask()
    trial = study.ask()
    with private("Study._study_id"):
        assert compat.study_id(study) == storage.get_study_id_from_name("second")
    with private("Trial._trial_id"):
        tid = compat.trial_id(trial)
        assert isinstance(tid, int) and tid != trial.number
        assert tid == storage.get_trial_id_from_study_id_trial_number(compat.study_id(study), trial.number)
    with private("FrozenTrial._trial_id"):
        frozen = study.get_trials(deepcopy=False)[trial.number]
        assert compat.trial_id(frozen) == tid
        assert compat.trial_id(storage.get_trial(tid)) == tid
    with private("Trial.storage"):
        assert compat.trial_storage(trial).get_trial(tid).number == trial.number
        frozen = compat.frozen_trial(trial)
        assert (frozen.number, frozen.state) == (trial.number, TrialState.RUNNING)


@pytest.mark.parametrize("kind", STORAGES)
def test_constraints_inherited_by_a_retry_are_overwritten(tmp_path, kind):
    study = optuna.create_study(storage=make_storage(kind, tmp_path), directions=["minimize", "maximize"])
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    name = "optuna.study._constrained_optimization._CONSTRAINTS_KEY"
    with private(name):
        trial.set_constraint("params_M", 1.5)
        stored = compat.trial_storage(trial).get_trial_system_attrs(compat.trial_id(trial))
        assert stored.get(f"{compat.CONSTRAINT_PREFIX}params_M") == 1.5, f"set_constraint stored {stored}"
    study.tell(trial, state=TrialState.FAIL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(max_retry=2)(study, compat.frozen_trial(trial))
        retry = study.ask()                           # the WAITING retry, inheriting the system attributes
        assert retry.number == 1 and retry.params == trial.params
        frozen = study.get_trials(deepcopy=False)[1]
        with private("system attribute 'failed_trial'"):
            assert compat.retried_trial_number(frozen) == 0
            assert compat.retried_trial_number(frozen) == RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
            assert compat.retried_trial_number(study.trials[0]) is None
        with private("system attribute 'retry_history'"):
            assert compat.retry_history(frozen) == [0]
            assert compat.retry_history(frozen) == RetryHeartbeatStaleTrialCallback.retry_history(frozen)
            assert compat.retry_history(study.trials[0]) == []
    with private(name):
        assert study.trials[1].constraints == {"params_M": 1.5}, "a retry no longer inherits constraints"
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="The constraint value is ignored")   # set_constraint keeps 1.5
            compat.set_constraints(retry, {"params_M": -0.5, "latency_ms": 2.0})
        assert study.trials[1].constraints == {"params_M": -0.5, "latency_ms": 2.0}
    study.tell(retry, values=(1.0, 0.5))
    assert study.trials[1].constraints == {"params_M": -0.5, "latency_ms": 2.0}


def test_the_heartbeat_warning_of_ask_is_silenced(tmp_path):
    study = optuna.create_study(storage=make_storage("sqlite", tmp_path, heartbeat_interval=60))
    with private("warning 'Heartbeat of storage ...'"):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            study.ask()
        assert any(str(w.message).startswith(compat.HEARTBEAT_ASK_WARNING) for w in seen), (
            f"Study.ask() no longer warns {compat.HEARTBEAT_ASK_WARNING!r} (it warned "
            f"{[str(w.message) for w in seen]}): heartbeat_ask_warning_ignored can go")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with compat.heartbeat_ask_warning_ignored():
                study.ask()
        assert not [w for w in seen if str(w.message).startswith(compat.HEARTBEAT_ASK_WARNING)]


def test_a_missing_private_name_is_named_with_the_optuna_version():
    class NotATrial:
        pass

    with pytest.raises(compat.OptunaCompatError, match=rf"Optuna {re.escape(VERSION)} has no Trial\._trial_id"):
        compat.trial_id(NotATrial())
    assert issubclass(compat.OptunaCompatError, AttributeError)   # not swallowed as a trial's own error


# ---------------------------------------------------------------------------------------------------
# no file of the archlab package but optuna_compat.py touches an Optuna private name

PACKAGE_DIRS = ("archlab", "blocks", "studies")     # blocks/ and studies/ install as archlab.blocks/.studies
COMPAT = ROOT / "archlab" / "search" / "optuna_compat.py"
INTERNAL_STRINGS = ("failed_trial", "retry_history")     # RetryHeartbeatStaleTrialCallback's system attributes
NOT_OPTUNA = {"_asdict", "_replace", "_make", "_fields", "_field_defaults", "_abc_impl"}   # namedtuple, abc


def optuna_private_names(tmp_path: Path) -> set[str]:
    """Single-underscore attribute names of the Optuna classes (and live objects) a search touches."""
    from optuna.storages._heartbeat import BaseHeartbeat      # the test may name it: it checks for it

    classes = [optuna.trial.Trial, optuna.trial.FrozenTrial, optuna.study.Study, optuna.storages.BaseStorage,
               InMemoryStorage, RDBStorage, JournalStorage, JournalFileBackend, BaseHeartbeat,
               RetryHeartbeatStaleTrialCallback, optuna.samplers.BaseSampler, optuna.samplers.NSGAIISampler,
               optuna.samplers.RandomSampler, optuna.distributions.FloatDistribution]
    names = {n for cls in classes for n in dir(cls)}
    storage = RDBStorage(f"sqlite:///{tmp_path / 'names.db'}")
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.NSGAIISampler(seed=0))
    trial = study.ask()
    objects = [storage, study, trial, study.trials[0], study.sampler, InMemoryStorage(),
               JournalStorage(JournalFileBackend(str(tmp_path / "names.journal"))),
               RetryHeartbeatStaleTrialCallback(max_retry=1)]
    names |= {n for obj in objects for n in vars(obj)}
    return {n for n in names if n.startswith("_") and not n.startswith("__")} - NOT_OPTUNA


def private_uses(source: str, private: set[str], path: str = "<source>") -> list[str]:
    """``path:line: what`` for each touch of an Optuna private name in ``source``: an import from a
    private Optuna module or of a private name, ``optuna...._x``, ``obj._x`` for an Optuna private
    ``_x`` (``self._x`` only in a class derived from an Optuna or optuna_compat name), a method
    overriding one in such a class, ``getattr(obj, "_x")``, and RetryHeartbeatStaleTrialCallback's
    system-attribute keys."""
    tree = ast.parse(source)
    found = []
    optuna_bound = {"optuna"}                 # names bound to Optuna (or optuna_compat) objects or modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "optuna" or node.module.startswith("optuna."):
                optuna_bound |= {a.asname or a.name for a in node.names}
                parts = node.module.split(".") + [a.name for a in node.names]
                if any(p.startswith("_") for p in parts):
                    found.append(f"{path}:{node.lineno}: from {node.module} import "
                                 f"{', '.join(a.name for a in node.names)}")
            if node.module.endswith("optuna_compat") or any(a.name == "optuna_compat" for a in node.names):
                optuna_bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "optuna" or a.name.startswith("optuna."):
                    optuna_bound.add((a.asname or a.name).split(".")[0])
                    if any(p.startswith("_") for p in a.name.split(".")):
                        found.append(f"{path}:{node.lineno}: import {a.name}")

    def root(expr):
        while isinstance(expr, ast.Attribute):
            expr = expr.value
        return expr.id if isinstance(expr, ast.Name) else None

    optuna_classes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(root(b) in optuna_bound for b in node.bases):
            optuna_classes.add(node)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in private:
                    found.append(f"{path}:{item.lineno}: {node.name}.{item.name} overrides an Optuna private method")

    def visit(node, in_optuna_class: bool):
        for child in ast.iter_child_nodes(node):
            inside = child in optuna_classes if isinstance(child, ast.ClassDef) else in_optuna_class
            if isinstance(child, ast.Attribute) and child.attr.startswith("_") and not child.attr.startswith("__"):
                on_self = isinstance(child.value, ast.Name) and child.value.id in ("self", "cls")
                if root(child) in optuna_bound and not on_self:
                    found.append(f"{path}:{child.lineno}: {ast.unparse(child)}")
                elif child.attr in private and (not on_self or in_optuna_class):
                    found.append(f"{path}:{child.lineno}: {ast.unparse(child)}")
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                if child.value in private or child.value in INTERNAL_STRINGS or re.fullmatch(
                        r"constraints:(\w+)?", child.value) or child.value.startswith(compat.HEARTBEAT_ASK_WARNING):
                    found.append(f"{path}:{child.lineno}: {child.value!r}")
            visit(child, inside)

    visit(tree, False)
    return found


def test_the_private_name_finder_finds_them(tmp_path):
    private = optuna_private_names(tmp_path)
    assert {"_trial_id", "_study_id", "_storage", "_get_stale_trial_ids"} <= private
    source = '''
import optuna
import optuna.storages._heartbeat
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
from optuna.storages import JournalStorage

class Journal(JournalStorage):
    def _get_stale_trial_ids(self, study_id):
        return self._backend

class Own:
    def __init__(self):
        self._memo = {}
        self._trial_id = 3          # its own attribute: fine

def f(trial, study):
    trial._trial_id, study._study_id, getattr(trial, "_trial_id"), optuna.storages._heartbeat
    trial.storage.set_trial_system_attr(1, f"constraints:{trial.number}", 1.0)
    return trial.system_attrs.get("failed_trial"), trial.system_attrs["retry_history"], Own()._memo
'''
    found = "\n".join(private_uses(source, private))
    for expected in (":3: import optuna.storages._heartbeat", ":4: from optuna.storages._heartbeat",
                     ":5: from optuna.study._constrained_optimization import _CONSTRAINTS_KEY",
                     ":9: Journal._get_stale_trial_ids overrides", ":10: self._backend", ":18: trial._trial_id",
                     ":18: study._study_id", ":18: '_trial_id'", ":18: optuna.storages._heartbeat",
                     ":19: 'constraints:'", ":20: 'failed_trial'", ":20: 'retry_history'"):
        assert expected in found, f"{expected!r} not in:\n{found}"
    assert "_memo" not in found and ":15:" not in found


def test_no_archlab_file_but_optuna_compat_touches_an_optuna_private_name(tmp_path):
    private = optuna_private_names(tmp_path)
    files = sorted(p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py") if p != COMPAT)
    assert len(files) > 50
    found = [use for p in files for use in private_uses(p.read_text(encoding="utf-8"), private,
                                                         str(p.relative_to(ROOT)))]
    assert not found, ("Optuna private names (or internals) used outside archlab/search/optuna_compat.py; move "
                       "each behind a named function there, with a check in this file:\n  " + "\n  ".join(found))
