"""A pytest plugin for latency benchmarks of archlab specs, blocks and modules.

Enable it with ``-p archlab.bench.plugin`` (archlab's own ``pyproject.toml`` does so in
``addopts``) or ``pytest_plugins = ["archlab.bench.plugin"]`` in your root ``conftest.py``. It
adds:

- options ``--bench-threads N`` (CPU threads, default 1), ``--bench-device cpu|cuda[:k]``
  (default cpu) and ``--bench-warmup N`` (untimed calls before timing, default 3);
- fixtures ``bench_spec(spec_or_zoo_name, input_size=(1, 3, 256, 512), **kw)``,
  ``bench_block(name_or_case, **kw)`` and ``bench_module(module, inputs, **kw)``: pytest-benchmark's
  ``benchmark`` fixture run through :mod:`archlab.bench.measure` with those settings, and
  ``bench_settings`` (the settings themselves);
- the ``bench`` marker;
- in every JSON file pytest-benchmark writes (``--benchmark-json``, ``--benchmark-autosave``),
  a first key ``"command"``: the command line that made it, and the torch version and archlab's
  bench settings in ``machine_info``.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass

import pytest

from archlab.bench.measure import DEFAULT_THREADS as _DEFAULT_THREADS
from archlab.bench.measure import DEFAULT_WARMUP as _DEFAULT_WARMUP


@dataclass(frozen=True)
class BenchSettings:
    threads: int = _DEFAULT_THREADS
    device: str = "cpu"
    warmup: int = _DEFAULT_WARMUP

    def kwargs(self) -> dict:
        return {"threads": self.threads, "device": self.device, "warmup": self.warmup}


def _positive_int(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise pytest.UsageError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise pytest.UsageError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


def pytest_addoption(parser):
    group = parser.getgroup("archlab-bench", "archlab latency benchmarks (archlab.bench.plugin)")
    group.addoption("--bench-threads", type=_positive_int(1), default=None,
                    help=f"CPU threads for archlab benchmarks (default {_DEFAULT_THREADS})")
    group.addoption("--bench-device", default=None, help="device for archlab benchmarks: cpu (default), cuda, cuda:K")
    group.addoption("--bench-warmup", type=_positive_int(0), default=None,
                    help=f"untimed calls before each archlab benchmark's timed rounds (default {_DEFAULT_WARMUP})")


def pytest_configure(config):
    config.addinivalue_line("markers", "bench: a latency benchmark (pytest-benchmark); runs once as a smoke test "
                                       "under --benchmark-disable")


def settings_from_config(config) -> BenchSettings:
    """The bench settings of a pytest run (defaults where the options are not registered)."""
    def option(name, default):
        value = config.getoption(name, default=None)
        return default if value is None else value
    return BenchSettings(threads=option("bench_threads", _DEFAULT_THREADS), device=option("bench_device", "cpu"),
                         warmup=option("bench_warmup", _DEFAULT_WARMUP))


@pytest.fixture
def bench_settings(request) -> BenchSettings:
    """Threads, device and warm-up calls for this run's archlab benchmarks."""
    return settings_from_config(request.config)


@pytest.fixture
def bench_spec(benchmark, bench_settings):
    """``bench_spec(spec_or_zoo_name, input_size=(1, 3, 256, 512), **kw)`` benchmarks a spec's forward
    (see :func:`archlab.bench.measure.benchmark_spec`; ``kw`` overrides the run's settings)."""
    from archlab.bench.measure import ZOO_INPUT_SIZE, benchmark_spec

    def run(spec, input_size=ZOO_INPUT_SIZE, **kwargs):
        return benchmark_spec(benchmark, spec, input_size, **{**bench_settings.kwargs(), **kwargs})
    return run


@pytest.fixture
def bench_block(benchmark, bench_settings):
    """``bench_block(name_or_case, **kw)`` benchmarks one block at its case's size
    (see :func:`archlab.bench.measure.benchmark_block`)."""
    from archlab.bench.measure import benchmark_block

    def run(block, **kwargs):
        return benchmark_block(benchmark, block, **{**bench_settings.kwargs(), **kwargs})
    return run


@pytest.fixture
def bench_module(benchmark, bench_settings):
    """``bench_module(module, inputs, **kw)`` benchmarks any ``nn.Module``
    (see :func:`archlab.bench.measure.benchmark_module`)."""
    from archlab.bench.measure import benchmark_module

    def run(module, inputs, **kwargs):
        return benchmark_module(benchmark, module, inputs, **{**bench_settings.kwargs(), **kwargs})
    return run


def command_line(config) -> str:
    """The command that started this pytest run, as a user would type it."""
    args = list(config.invocation_params.args)
    program = "python -m pytest" if sys.argv and sys.argv[0].endswith(("pytest/__main__.py", "-c")) else "pytest"
    return " ".join([program] + [shlex.quote(str(a)) for a in args])


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    import torch

    machine_info["torch"] = torch.__version__
    machine_info["archlab_bench"] = settings_from_config(config).kwargs()


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config, benchmarks, output_json):
    rest = dict(output_json)
    output_json.clear()
    output_json["command"] = command_line(config)
    output_json.update(rest)
