"""Benchmark a module, a spec or a block with pytest-benchmark's ``benchmark`` fixture.

Every benchmark runs the same way: batch as given (1 by default), the module in eval mode under
``torch.inference_mode()``, a fixed CPU thread count (set for the benchmark and restored after),
``warmup`` untimed calls before pytest-benchmark's timed rounds, and, on CUDA, a
``torch.cuda.synchronize`` inside the benchmarked function so each round times the finished
work. ``benchmark.extra_info`` records what the figure means: parameters, fvcore MACs, device
and its name, threads, input shapes, torch version, and where ``archlab``/``blocks`` (and the
module's own package) were imported from, which ``python -m archlab.bench compare`` checks.

With ``--benchmark-disable`` (the default test run) pytest-benchmark calls the function once:
the warm-up is skipped, so each benchmark is a quick correctness smoke test.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from torch import nn

DEFAULT_THREADS = 1
DEFAULT_WARMUP = 3
ZOO_INPUT_SIZE = (1, 3, 256, 512)

__all__ = ["DEFAULT_THREADS", "DEFAULT_WARMUP", "ZOO_INPUT_SIZE", "benchmark_block", "benchmark_module",
           "benchmark_spec", "import_sources"]


def _check_benchmark(benchmark):
    if not (callable(benchmark) and hasattr(benchmark, "extra_info") and hasattr(benchmark, "disabled")):
        raise ValueError(f"benchmark must be pytest-benchmark's `benchmark` fixture (a test argument named "
                         f"'benchmark'), got {type(benchmark).__name__}")


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def _device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device (valid: 'cpu', 'cuda', 'cuda:1'): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch.cuda.is_available() is False on this machine; use 'cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: benchmarks run on 'cpu' or 'cuda'")
    return dev


def _package_dir(name: str) -> str | None:
    """Directory of package (or module) ``name`` as imported now."""
    top = sys.modules.get(name) or (importlib.import_module(name) if name in ("archlab", "archlab.blocks") else None)
    path = getattr(top, "__file__", None)
    if path is None:
        return None
    path = Path(path)
    return str(path.parent if path.name == "__init__.py" else path)


def import_sources(module: nn.Module | None = None) -> dict[str, str]:
    """Where ``archlab``, ``archlab.blocks`` (its own folder in a checkout) and ``module``'s top-level
    package were imported from."""
    found = {name: _package_dir(name) for name in ("archlab", "archlab.blocks")}
    if module is not None:
        top = type(module).__module__.split(".")[0]
        if top not in found and top not in ("torch", "builtins"):
            found[top] = _package_dir(top)
    return {name: path for name, path in found.items() if path is not None}


def _shape_text(shape) -> str:
    return "x".join(str(int(v)) for v in shape)


def _fvcore_macs(module: nn.Module, inputs: tuple) -> int:
    from fvcore.nn import FlopCountAnalysis

    from archlab.profile.counters import _eval_no_grad

    with _eval_no_grad(module):
        analysis = FlopCountAnalysis(module, inputs if len(inputs) > 1 else inputs[0])
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


def benchmark_module(benchmark, module: nn.Module, inputs, *, threads: int | None = DEFAULT_THREADS,
                     device="cpu", warmup: int = DEFAULT_WARMUP, macs="fvcore", extra_info: dict | None = None,
                     group: str | None = None):
    """Benchmark ``module(*inputs)`` with pytest-benchmark's ``benchmark`` fixture; returns its output.

    ``inputs``: a tensor or a tuple of tensors (their first dimension is the batch). ``threads``:
    CPU threads for the benchmark (``None``: leave torch's setting). ``device``: ``"cpu"`` or
    ``"cuda[:k]"``; the module and inputs are moved there, and on CUDA the benchmarked function
    synchronises. ``warmup``: untimed calls before timing (skipped when benchmarking is
    disabled). ``macs``: ``"fvcore"`` counts them with fvcore (multiply-adds, fvcore's rules; not
    counted when benchmarking is disabled), an int is recorded as given, ``None`` records none.
    ``extra_info`` is added to what is recorded; ``group`` sets pytest-benchmark's group unless
    the test already set one.
    """
    _check_benchmark(benchmark)
    if not isinstance(module, nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise ValueError("inputs must be a tensor or a non-empty tuple of tensors")
    if threads is not None:
        _check_int(threads, "threads", 1)
    _check_int(warmup, "warmup", 0)
    dev = _device(device)
    if not (macs in ("fvcore", None) or (isinstance(macs, int) and not isinstance(macs, bool) and macs >= 0)):
        raise ValueError(f"macs={macs!r} must be 'fvcore', None or a non-negative int")

    from archlab.profile.counters import count_params
    from archlab.profile.latency import cpu_threads, eval_mode
    from archlab.profile.allocator import steady_cpu_allocator
    from archlab.profile.record import device_name

    module = module.to(dev)
    inputs = tuple(t.to(dev) for t in inputs)
    info = {
        "params": count_params(module),
        # counted only when timing for real: a smoke run (benchmarking disabled) records None
        "macs_fvcore": (None if benchmark.disabled else _fvcore_macs(module, inputs)) if macs == "fvcore" else macs,
        "device": str(dev),
        "device_name": device_name(str(dev)),
        "input_size": ",".join(_shape_text(t.shape) for t in inputs),
        "batch": int(inputs[0].shape[0]) if inputs[0].ndim else 1,
        "dtype": str(inputs[0].dtype).replace("torch.", ""),
        "inference_mode": True,
        "warmup": warmup,
        "torch": torch.__version__,
        "sources": import_sources(module),
    }
    if group is not None and getattr(benchmark, "group", None) is None:
        benchmark.group = group

    if dev.type == "cuda":
        def run():
            out = module(*inputs)
            torch.cuda.synchronize(dev)
            return out
    else:
        info["cpu_allocator"] = steady_cpu_allocator()

        def run():
            return module(*inputs)

    with cpu_threads(threads) as n_threads, eval_mode(module), torch.inference_mode():
        info["threads"] = n_threads
        benchmark.extra_info.update(info)
        benchmark.extra_info.update(extra_info or {})
        if not benchmark.disabled:
            for _ in range(warmup):
                run()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
        return benchmark(run)


def _example_input(size, seed: int = 0) -> torch.Tensor:
    return torch.randn(size, generator=torch.Generator().manual_seed(seed))


def benchmark_spec(benchmark, spec, input_size=ZOO_INPUT_SIZE, *, threads: int | None = DEFAULT_THREADS,
                   device="cpu", warmup: int = DEFAULT_WARMUP, macs="fvcore", extra_info: dict | None = None,
                   group: str | None = "spec"):
    """Benchmark the forward of ``spec`` (an :class:`archlab.Spec` or a zoo model name).

    The spec is validated and built at ``input_size`` ((N, C, H, W) or (H, W); batch 1 by
    default) and run on a fixed random input. Records the spec's name and content hash besides
    :func:`benchmark_module`'s fields. Use it in your own tests to guard a study variant::

        def test_my_variant(benchmark):
            spec = archlab.transforms.replace(archlab.get_spec("fassd_net"), "context", block="aspp")
            archlab.bench.benchmark_spec(benchmark, spec, (1, 3, 256, 512))
    """
    import archlab
    from archlab.errors import SpecError
    from archlab.profile.record import normalise_size
    from archlab.spec import Spec

    if isinstance(spec, str):
        spec = archlab.get_spec(spec)
    if not isinstance(spec, Spec):
        raise SpecError(f"benchmark_spec takes an archlab.Spec or a zoo model name, got {type(spec).__name__}")
    size = normalise_size(input_size)
    if len(tuple(input_size)) == 2:  # (H, W): batch 1 and the spec's input channels
        size = (1, spec.in_channels) + size[2:]
    model = archlab.build(spec, input_size=size)
    info = {"spec": spec.name, "spec_hash": spec.content_hash()[:16]}
    info.update(extra_info or {})
    return benchmark_module(benchmark, model, _example_input(size), threads=threads, device=device, warmup=warmup,
                            macs=macs, extra_info=info, group=group)


def benchmark_block(benchmark, block, *, threads: int | None = DEFAULT_THREADS, device="cpu",
                    warmup: int = DEFAULT_WARMUP, extra_info: dict | None = None, group: str | None = "block"):
    """Benchmark one block (a registered name or an :class:`~archlab.bench.cases.BlockCase`) alone.

    The case's spec is built through the block graph (so argument defaults and validation are a
    real spec's), run once to make the block's inputs, and then only the block node is timed.
    MACs are fvcore's figure for that node.
    """
    import archlab
    from archlab.bench.cases import BLOCK_NODE, BlockCase, block_case
    from archlab.profile.counters import fvcore_macs
    from archlab.spec import INPUT, parse_ref

    case = block if isinstance(block, BlockCase) else block_case(block)
    spec = case.spec()
    model = archlab.build(spec, input_size=case.input_size).eval()
    with torch.inference_mode():
        env = model.run(_example_input(case.input_size), keep=True)
    args = []
    for ref in spec.node(BLOCK_NODE).inputs:
        src, k = parse_ref(ref)
        value = env[INPUT if src == INPUT else src]
        args.append(value[k] if isinstance(value, (tuple, list)) else value)
    args = [a.clone() for a in args]  # plain tensors, not inference-mode views of the graph's run
    _, per_module = fvcore_macs(model, case.input_size, by_module=True)
    info = {"block": case.block, "block_args": dict(case.args)}
    info.update(extra_info or {})
    return benchmark_module(benchmark, model.nodes[BLOCK_NODE], tuple(args), threads=threads, device=device,
                            warmup=warmup, macs=int(per_module.get(f"nodes.{BLOCK_NODE}", 0)), extra_info=info,
                            group=group)

