"""Find and load study definitions: ``studies/NAME.py`` exposing ``STUDY`` (and nothing outside ``studies/``)."""
from __future__ import annotations

import importlib
import pkgutil

from archlab.study.definition import NAME_RE, Study, StudyError


def list_studies() -> list[str]:
    """Names of the study files in the ``studies`` package that define a ``STUDY``."""
    import studies

    names = []
    for mod in pkgutil.iter_modules(studies.__path__):
        if not mod.name.startswith("_") and NAME_RE.match(mod.name):
            names.append(mod.name)
    return sorted(n for n in names if isinstance(getattr(_import(n), "STUDY", None), Study))


def _import(name: str):
    return importlib.import_module(f"studies.{name}")


def load_study(name: str, attribute: str = "STUDY") -> Study:
    """The study called ``name``, checked. A name is a bare module name: no paths, no dots."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StudyError("a study is named by its file in studies/ (lower case letters, digits, '_'; no paths "
                         "or dots); python -m archlab.study --list shows them", study=str(name))
    import studies

    known = [m.name for m in pkgutil.iter_modules(studies.__path__) if not m.name.startswith("_")]
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise StudyError(f"no file studies/{name}.py.{hint} Studies: {', '.join(sorted(known))}", study=name)
    try:
        module = _import(name)
    except Exception as exc:  # noqa: BLE001 - a broken study file: say which and why
        raise StudyError(f"studies/{name}.py cannot be imported: {type(exc).__name__}: {exc}", study=name) from None
    study = getattr(module, attribute, None)
    if not isinstance(study, Study):
        raise StudyError(f"studies/{name}.py defines no {attribute} = Study(...)", study=name)
    if study.name != name:
        raise StudyError(f"studies/{name}.py defines a study named {study.name!r}; the names must match", study=name)
    study.check()
    return study
