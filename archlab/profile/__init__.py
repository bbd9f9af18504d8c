"""The profiler: one record per (model, settings) with every figure's unit in its name.

``archlab.profile(model_or_spec, input_size=(1, 3, H, W), ...)`` returns a flat record (see
:mod:`archlab.profile.record`), and with ``breakdown=True`` also a per-node pandas DataFrame.
Counting lives in :mod:`.counters`, timing in :mod:`.latency`, deploy options in :mod:`.deploy`,
memory in :mod:`.memory`, the device's roofline in :mod:`.roofline`.
"""
from archlab.profile.record import ProfileSettings, profile

__all__ = ["ProfileSettings", "profile"]
