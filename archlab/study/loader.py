"""Find and load study definitions: files exposing ``STUDY``, by name or by path (see :mod:`archlab.study.files`)."""
from __future__ import annotations

from archlab.study.definition import NAME_RE, Study, StudyError
from archlab.study.files import StudyFileError, import_study_file, is_path, locate, study_files


def list_studies(broken: dict | None = None, studies_dirs=()) -> list[str]:
    """Names of the study files (``--studies-dir`` folders, ``ARCHLAB_STUDIES``, archlab's own) that define a ``STUDY``.

    A file that cannot be imported is left out (and, when ``broken`` is a dict, recorded there as
    name -> reason), so one broken file does not hide the others.
    """
    names = []
    for name in study_files(studies_dirs):
        if not NAME_RE.match(name):
            continue
        try:
            module = import_study_file(name, studies_dirs)
        except StudyFileError as exc:
            if broken is not None:
                broken[name] = str(exc)
            continue
        if isinstance(getattr(module, "STUDY", None), Study):
            names.append(name)
    return names


def load_study(ref: str, attribute: str = "STUDY", studies_dirs=()) -> Study:
    """The study ``ref`` (a file name without ``.py``, or a path to a ``.py`` file), checked.

    The study's own ``name`` must be its file's name: it names the report folder, and the name rule
    (lower case letters, digits, '_') keeps that folder inside ``reports/``.
    """
    if not isinstance(ref, str) or not (is_path(ref) or NAME_RE.match(ref)):
        raise StudyError("a study is named by its file in studies/ (lower case letters, digits, '_'; no dots) or "
                         "by a path to a .py file; python -m archlab.study --list shows them", study=str(ref))
    try:
        found = locate(ref, studies_dirs)
        module = import_study_file(ref, studies_dirs)
    except StudyFileError as exc:
        raise StudyError(str(exc), study=ref) from None
    shown = f"studies/{found.name}.py" if found.origin == "archlab" else str(found.path)
    study = getattr(module, attribute, None)
    if not isinstance(study, Study):
        raise StudyError(f"{shown} defines no {attribute} = Study(...)", study=found.name)
    if study.name != found.name:
        raise StudyError(f"{shown} defines a study named {study.name!r}; the names must match", study=found.name)
    study.check()
    return study
