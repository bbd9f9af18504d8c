"""Where study and search files come from: the ``studies`` package shipped beside archlab, and no
other. One home for both loaders (:mod:`archlab.study.loader`, :mod:`archlab.search.space`).

``import studies`` would take a ``studies/`` folder in the current directory first, and so run a
stranger's files when a command is started elsewhere. :func:`study_modules` finds the package with
``importlib.util.find_spec`` (which runs nothing) and refuses one that is not archlab's own.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path

from archlab.errors import ArchlabError


class StudyFileError(ArchlabError):
    """The studies package cannot be used (shadowed, missing) or one of its files cannot be imported."""


def shipped_dir() -> Path:
    """The ``studies`` folder installed with archlab (beside the ``archlab`` package)."""
    import archlab

    return Path(archlab.__file__).resolve().parent.parent / "studies"


def _package_path() -> list[str]:
    """The folders of archlab's ``studies`` package (its ``__path__``), after checking that the
    package ``import studies`` would take is archlab's own."""
    found = importlib.util.find_spec("studies")
    if found is None or not found.submodule_search_locations:
        raise StudyFileError(f"archlab's studies package is not installed (expected {shipped_dir()}); reinstall archlab")
    locations = list(found.submodule_search_locations)
    where = Path(locations[0]).resolve()
    if where != shipped_dir():
        raise StudyFileError(f"a package named 'studies' at {where} shadows archlab's own ({shipped_dir()}); archlab "
                             f"will not import its files. Run the command from another folder, or rename that one")
    import sys

    package = sys.modules.get("studies")
    return list(package.__path__) if package is not None else locations


def study_modules() -> list[str]:
    """Names of the files in archlab's ``studies`` package (not starting with '_')."""
    return sorted(m.name for m in pkgutil.iter_modules(_package_path()) if not m.name.startswith("_"))


def import_study_file(name: str):
    """Import ``studies/NAME.py`` of archlab's package; any failure is a StudyFileError naming the file."""
    _package_path()
    try:
        return importlib.import_module(f"studies.{name}")
    except Exception as exc:  # noqa: BLE001 - a broken study file: say which and why
        raise StudyFileError(f"studies/{name}.py cannot be imported: {type(exc).__name__}: {exc}") from None
