"""Find and load study definitions: ``studies/NAME.py`` exposing ``STUDY`` (and nothing outside ``studies/``)."""
from __future__ import annotations

from archlab.study.definition import NAME_RE, Study, StudyError
from archlab.study.files import StudyFileError, import_study_file, study_modules


def list_studies(broken: dict | None = None) -> list[str]:
    """Names of the study files in archlab's ``studies`` package that define a ``STUDY``.

    A file that cannot be imported is left out (and, when ``broken`` is a dict, recorded there as
    name -> reason), so one broken file does not hide the others.
    """
    names = []
    for name in study_modules():
        if not NAME_RE.match(name):
            continue
        try:
            module = import_study_file(name)
        except StudyFileError as exc:
            if broken is not None:
                broken[name] = str(exc)
            continue
        if isinstance(getattr(module, "STUDY", None), Study):
            names.append(name)
    return names


def load_study(name: str, attribute: str = "STUDY") -> Study:
    """The study called ``name``, checked. A name is a bare module name: no paths, no dots."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StudyError("a study is named by its file in studies/ (lower case letters, digits, '_'; no paths "
                         "or dots); python -m archlab.study --list shows them", study=str(name))
    known = study_modules()
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise StudyError(f"no file studies/{name}.py.{hint} Studies: {', '.join(sorted(known))}", study=name)
    try:
        module = import_study_file(name)
    except StudyFileError as exc:
        raise StudyError(str(exc), study=name) from None
    study = getattr(module, attribute, None)
    if not isinstance(study, Study):
        raise StudyError(f"studies/{name}.py defines no {attribute} = Study(...)", study=name)
    if study.name != name:
        raise StudyError(f"studies/{name}.py defines a study named {study.name!r}; the names must match", study=name)
    study.check()
    return study
