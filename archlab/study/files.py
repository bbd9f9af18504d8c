"""Where study and search files come from. One home for both loaders (:mod:`archlab.study.loader`,
:mod:`archlab.search.space`).

A study or search space is a Python file defining ``STUDY`` or ``SEARCH``. It is named either

- by its file's name without ``.py`` (``dapf_vs_aspp``), looked up in the folders given with
  ``--studies-dir`` (in order), then those in the environment variable ``ARCHLAB_STUDIES``
  (separated by ``os.pathsep``), then archlab's own :mod:`archlab.studies`; the first folder that
  has the file wins, so a user's folder can hold its own version of a shipped study; or
- by a path to the file (``path/to/my_study.py``, anything ending in ``.py`` or holding a ``/``).

Nothing is imported from the current directory by accident: archlab's own files are the package
``archlab.studies``, and other folders are read only when named. A user file is imported under a
private module name (``archlab_user_studies.<name>_<digest of its path>``), so two folders may both
hold a ``my_study.py``. As for a script run by ``python``, the user file's folder is put on
``sys.path`` first, so the modules beside it (its blocks) can be imported by name.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from archlab.errors import ArchlabError

ENV_DIRS = "ARCHLAB_STUDIES"
SHIPPED = "archlab"


class StudyFileError(ArchlabError):
    """A study folder or file that cannot be used (missing, not a folder) or a file that cannot be imported."""


@dataclass(frozen=True)
class StudyFile:
    """One study/search file: its ``name`` (the file name without ``.py``), ``path`` and ``origin``
    (``"archlab"`` for the shipped ones, else the folder or path it was found through)."""

    name: str
    path: Path
    origin: str


def shipped_dir() -> Path:
    """The folder of archlab's own studies (the package :mod:`archlab.studies`)."""
    import archlab.studies

    return Path(next(iter(archlab.studies.__path__))).resolve()


def is_path(ref: str) -> bool:
    """True when ``ref`` names a file (``*.py`` or with a ``/``) rather than a study name."""
    return isinstance(ref, str) and (ref.endswith(".py") or "/" in ref or os.sep in ref)


def study_dirs(extra=()) -> list[tuple[Path, str]]:
    """(folder, where it was named) in lookup order: ``extra`` (``--studies-dir``), ``ARCHLAB_STUDIES``, archlab's."""
    named = [(Path(d), "--studies-dir") for d in extra]
    named += [(Path(d), ENV_DIRS) for d in os.environ.get(ENV_DIRS, "").split(os.pathsep) if d.strip()]
    for folder, source in named:
        if not folder.is_dir():
            raise StudyFileError(f"{source} names {str(folder)!r}, which is not a folder; expected a folder of "
                                 f"study files (*.py defining STUDY or SEARCH)")
    return [(folder.resolve(), source) for folder, source in named] + [(shipped_dir(), SHIPPED)]


def study_files(extra=()) -> dict[str, StudyFile]:
    """Every study file by name (not starting with '_'); a name in an earlier folder hides a later one."""
    found: dict[str, StudyFile] = {}
    for folder, source in study_dirs(extra):
        origin = SHIPPED if source == SHIPPED else str(folder)
        for path in sorted(folder.glob("*.py")):
            if not path.stem.startswith("_"):
                found.setdefault(path.stem, StudyFile(path.stem, path, origin))
    return found


def study_modules(extra=()) -> list[str]:
    """Names of every study file (see :func:`study_files`), sorted."""
    return sorted(study_files(extra))


def locate(ref: str, extra=()) -> StudyFile:
    """The file a name or path refers to; a StudyFileError naming it (and close names) when there is none."""
    if is_path(ref):
        path = Path(ref).expanduser()
        if path.suffix != ".py" or not path.is_file():
            raise StudyFileError(f"study file {ref!r} does not exist or is not a .py file; expected a path to a "
                                 f"Python file defining STUDY or SEARCH")
        return StudyFile(path.stem, path.resolve(), str(path.resolve()))
    files = study_files(extra)
    if ref not in files:
        import difflib

        close = difflib.get_close_matches(ref, files, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        folders = ", ".join(str(folder) for folder, _ in study_dirs(extra))
        raise StudyFileError(f"no file studies/{ref}.py.{hint} Looked in: {folders}")
    return files[ref]


def import_study_file(ref: str, extra=()):
    """Import the study file ``ref`` (a name or a path); any failure is a StudyFileError naming the file."""
    found = locate(ref, extra)
    shown = f"studies/{found.name}.py" if found.origin == SHIPPED else str(found.path)
    try:
        if found.origin == SHIPPED:
            return importlib.import_module(f"archlab.studies.{found.name}")
        digest = hashlib.sha256(str(found.path).encode()).hexdigest()[:10]
        module_name = f"archlab_user_studies.{found.name}_{digest}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        folder = str(found.path.parent)
        if folder not in sys.path:   # as for a script: modules beside the file (the user's blocks) import
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(module_name, found.path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module
    except Exception as exc:  # noqa: BLE001 - a broken study file: say which and why
        raise StudyFileError(f"{shown} cannot be imported: {type(exc).__name__}: {exc}") from None
