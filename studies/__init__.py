"""Study and search definitions, one file each, declarative (see the studies issue).

Studies import only archlab's public API: ``archlab.get_spec``, ``archlab.transforms`` and the
records the profiler and trainer return.
"""
