"""Studies: named, declarative sets of variants of one architecture, measured and reported.

Define one in ``studies/NAME.py`` with :class:`Study`, :class:`Variant`, :class:`Reference` and
the transform ops below; run it with ``python -m archlab.study NAME`` or :func:`run_study`.
"""
from archlab.study.definition import (Op, Reference, Study, StudyError, Variant, alpha, cascade, depth, remove,
                                      remove_all, replace, substitute, width)
from archlab.study.loader import list_studies, load_study
from archlab.study.runner import StudySettings, run_study

__all__ = ["Op", "Reference", "Study", "StudyError", "StudySettings", "Variant", "alpha", "cascade", "depth",
           "list_studies", "load_study", "remove", "remove_all", "replace", "run_study", "substitute", "width"]
