"""Latency regression checks: pytest-benchmark benchmarks of specs, blocks and modules, and a
same-machine comparison of two revisions.

- :mod:`archlab.bench.measure`: ``benchmark_spec``, ``benchmark_block``, ``benchmark_module``,
  which run pytest-benchmark's ``benchmark`` fixture at batch 1, in inference mode, at a fixed
  thread count, after warm-up calls, and record MACs, parameters, device, threads and input size.
- :mod:`archlab.bench.cases`: what each registered block is benchmarked on.
- :mod:`archlab.bench.plugin`: the pytest plugin (``bench_spec``/``bench_block``/``bench_module``
  fixtures, ``--bench-threads``/``--bench-device``/``--bench-warmup``).
- :mod:`archlab.bench.compare`: ``python -m archlab.bench compare BASE_REV [HEAD_REV]`` runs a
  benchmark suite at two revisions on this machine, interleaved, and flags slowdowns beyond the
  threshold and beyond the measured noise.
"""
from archlab.bench.cases import BlockCase, block_case, block_cases
from archlab.bench.compare import CompareError, Verdict, compare_revisions, judge
from archlab.bench.measure import (DEFAULT_THREADS, DEFAULT_WARMUP, ZOO_INPUT_SIZE, benchmark_block,
                                   benchmark_module, benchmark_spec)

__all__ = ["DEFAULT_THREADS", "DEFAULT_WARMUP", "ZOO_INPUT_SIZE", "BlockCase", "CompareError", "Verdict",
           "benchmark_block", "benchmark_module", "benchmark_spec", "block_case", "block_cases",
           "compare_revisions", "judge"]
