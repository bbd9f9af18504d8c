"""The profiler: one record per (model, settings) with every figure's unit in its name.

``archlab.profile(model_or_spec, input_size=(1, 3, H, W), ...)`` returns a :class:`ProfileResult`:
``.record``, the flat record (see :mod:`archlab.profile.record`), and ``.per_node``, with
``breakdown=True`` the per-node pandas DataFrame (else ``None``).
Counting lives in :mod:`.counters` (the table of counters, ``counters.COUNTERS``), timing in
:mod:`.latency`, deploy options in :mod:`.deploy`, memory in :mod:`.memory`, the device's roofline
in :mod:`.roofline`.
"""
from archlab.profile.record import ProfileResult, ProfileSettings, profile

__all__ = ["ProfileResult", "ProfileSettings", "profile"]
