"""Every use archlab makes of Optuna's private names and undocumented internals, in one place.

The search needs a few things Optuna does not offer publicly: the storage id of a trial (the
key of every storage call), the heartbeat protocol that :func:`optuna.storages.fail_stale_trials`
checks for (so that a journal file gets the heartbeats RDBStorage has), the system-attribute
layout of ``Trial.set_constraint`` (to overwrite a constraint a retried trial inherited), the
system attributes of ``RetryHeartbeatStaleTrialCallback``, and the text of one warning. Nothing
else in archlab touches an Optuna name that starts with ``_`` (``tests/archlab/search/
test_optuna_compat.py`` checks that, and checks that every name below still exists and behaves
as used, naming the Optuna version and the name when an upgrade removed or changed one).

When an Optuna upgrade breaks one of them, this module is the only file to adapt.
"""
from __future__ import annotations

import abc
import contextlib
import warnings

import optuna

OPTUNA_VERSION = optuna.__version__

#: The private names used here, and what for (the test checks each of them).
PRIVATE_NAMES = {
    "optuna.storages._heartbeat.BaseHeartbeat":
        "the heartbeat protocol fail_stale_trials() checks for (isinstance), inherited by HeartbeatStorage",
    "BaseHeartbeat._get_stale_trial_ids":
        "the hook fail_stale_trials() calls for a heartbeat storage's stale trials (HeartbeatStorage forwards it)",
    "Trial._trial_id": "the storage id of an asked trial (trial_id)",
    "FrozenTrial._trial_id": "the storage id of a stored trial (trial_id)",
    "Study._study_id": "the storage id of a study (study_id)",
    "optuna.study._constrained_optimization._CONSTRAINTS_KEY":
        "the system-attribute prefix Trial.set_constraint writes (set_constraints overwrites inherited values)",
}

#: Undocumented (but not underscore) internals relied on, and what for (the test checks each of them).
INTERNALS = {
    "Trial.storage": "the storage an asked trial writes to (frozen_trial, set_constraints)",
    "system attribute 'failed_trial'":
        "set by RetryHeartbeatStaleTrialCallback on a retry (retried_trial_number)",
    "system attribute 'retry_history'":
        "set by RetryHeartbeatStaleTrialCallback on a retry (retry_history)",
    "warning 'Heartbeat of storage ...'":
        "Study.ask() on a heartbeat storage warns that heartbeats are meant for optimize() "
        "(heartbeat_ask_warning_ignored)",
}


class OptunaCompatError(AttributeError):
    """An Optuna private name that archlab uses is gone: the message names the Optuna version and the name."""


def missing_message(name: str) -> str:
    """The message for a private name that this Optuna version lacks."""
    use = PRIVATE_NAMES.get(name) or INTERNALS.get(name) or "see archlab.search.optuna_compat"
    return (f"Optuna {OPTUNA_VERSION} has no {name}, which archlab uses for {use}; adapt "
            f"archlab/search/optuna_compat.py to this Optuna version (tests/archlab/search/test_optuna_compat.py "
            f"checks every private name it uses)")


try:
    from optuna.storages._heartbeat import BaseHeartbeat
except ImportError as exc:                              # pragma: no cover - an Optuna that moved it
    raise ImportError(missing_message("optuna.storages._heartbeat.BaseHeartbeat")) from exc

try:
    from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
except ImportError as exc:                              # pragma: no cover - an Optuna that moved it
    raise ImportError(missing_message("optuna.study._constrained_optimization._CONSTRAINTS_KEY")) from exc

#: ``Trial.set_constraint(name, v)`` stores ``v`` in the system attribute ``CONSTRAINT_PREFIX + name``.
CONSTRAINT_PREFIX = f"{_CONSTRAINTS_KEY}:"

#: The start of the warning ``Study.ask()`` gives on a storage with heartbeats.
HEARTBEAT_ASK_WARNING = "Heartbeat of storage"


def _private(obj, attr: str, name: str):
    """``getattr(obj, attr)``, or OptunaCompatError naming ``name`` and the Optuna version."""
    try:
        return getattr(obj, attr)
    except AttributeError:
        raise OptunaCompatError(missing_message(name)) from None


def trial_id(trial) -> int:
    """The storage id of a trial (``Trial`` or ``FrozenTrial``): the key of every storage call about it.

    Not the trial's ``number`` (its position in its study): ids run over all studies of a storage.
    """
    name = "FrozenTrial._trial_id" if isinstance(trial, optuna.trial.FrozenTrial) else "Trial._trial_id"
    return _private(trial, "_trial_id", name)


def study_id(study) -> int:
    """The storage id of a study (``Study._study_id``)."""
    return _private(study, "_study_id", "Study._study_id")


def trial_storage(trial):
    """The storage an asked trial writes to (``Trial.storage``)."""
    return _private(trial, "storage", "Trial.storage")


def frozen_trial(trial) -> optuna.trial.FrozenTrial:
    """The stored state of an asked trial, read from its storage now."""
    return trial_storage(trial).get_trial(trial_id(trial))


def stale_trial_ids(storage, study) -> list[int]:
    """Ids of the RUNNING trials of ``study`` whose heartbeat ``storage`` finds stale (what
    :func:`optuna.storages.fail_stale_trials` fails); any heartbeat storage, RDBStorage included."""
    if not isinstance(storage, BaseHeartbeat):
        raise TypeError(f"{type(storage).__name__} has no heartbeats")
    hook = _private(storage, "_get_stale_trial_ids", "BaseHeartbeat._get_stale_trial_ids")
    return hook(study_id(study))


class HeartbeatStorage(BaseHeartbeat):
    """Optuna's heartbeat protocol (``BaseHeartbeat``) for a storage of archlab's own, with its
    private hook under a public name: mix it into a ``BaseStorage`` and implement
    :meth:`stale_trial_ids`, ``record_heartbeat``, ``get_heartbeat_interval`` and
    ``get_heartbeat_stale_trial_callback``; :func:`optuna.storages.fail_stale_trials` then fails
    the stale trials and runs the callback, as it does for RDBStorage."""

    @abc.abstractmethod
    def stale_trial_ids(self, study_id: int) -> list[int]:
        """Ids of the study's RUNNING trials whose heartbeat is older than the grace period."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Optuna's name for :meth:`stale_trial_ids` (called by ``fail_stale_trials``)."""
        return self.stale_trial_ids(study_id)


def set_constraints(trial, values: dict) -> None:
    """``trial.set_constraint(name, value)`` for each item, except that a constraint the trial
    inherited (a retry of a stale trial gets its predecessor's system attributes) is overwritten
    with this value: ``Trial.set_constraint`` would keep the old value and warn."""
    storage, key_of = trial_storage(trial), trial_id(trial)
    existing = storage.get_trial_system_attrs(key_of)
    for name, value in values.items():
        key = f"{CONSTRAINT_PREFIX}{name}"
        if key in existing:
            storage.set_trial_system_attr(key_of, key, float(value))
        else:
            trial.set_constraint(name, value)


def retried_trial_number(trial) -> int | None:
    """The number of the first trial of the retry series ``trial`` belongs to (None: not a retry);
    ``RetryHeartbeatStaleTrialCallback.retried_trial_number`` without its experimental warning."""
    return trial.system_attrs.get("failed_trial")


def retry_history(trial) -> list[int]:
    """The numbers of the trials ``trial`` retries, oldest first (empty: not a retry);
    ``RetryHeartbeatStaleTrialCallback.retry_history`` without its experimental warning."""
    return list(trial.system_attrs.get("retry_history", ()))


@contextlib.contextmanager
def heartbeat_ask_warning_ignored():
    """Silence the warning ``Study.ask()`` gives on a heartbeat storage (heartbeats, it says, are
    meant for ``Study.optimize``; archlab's workers beat themselves)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=HEARTBEAT_ASK_WARNING)
        yield
