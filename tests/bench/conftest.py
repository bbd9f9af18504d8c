"""Latency benchmarks of archlab (pytest-benchmark): every zoo model's forward and every block.

The default test run passes ``--benchmark-disable`` (pyproject.toml's addopts): each benchmarked
function runs once, as a smoke test. Run them for real with ``--benchmark-enable``; see the
README's "Latency regressions" section for saving a baseline and comparing against it, and
``python -m archlab.bench compare`` for a same-machine comparison of two revisions.

The fixtures come from :mod:`archlab.bench.plugin`, loaded by addopts' ``-p archlab.bench.plugin``
(which also adds ``--bench-threads``, ``--bench-device``, ``--bench-warmup``); importing them here
keeps this suite working when the plugin is not loaded (the settings then take their defaults).
"""
from archlab.bench.plugin import bench_block, bench_module, bench_settings, bench_spec  # noqa: F401
