"""The deployment runtimes as a table of :class:`Backend` objects, and :func:`deploy`.

A backend turns an exported ONNX file into a callable on numpy arrays at one fixed input shape.
Lifecycle: :meth:`Backend.check` (is its package installed, is the device one it runs on) →
:meth:`Backend.compile` (build the network once, with the thread count) → the returned callable,
called once per forward. Adding a runtime is one subclass and one entry in :data:`BACKENDS`.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from archlab.errors import ArchlabError

#: Largest accepted difference to eager PyTorch on the check input, relative to max(1, largest |output|).
TOLERANCE = 1e-3


class BackendError(ArchlabError):
    """A runtime that is missing, refuses the device, cannot take the model, or disagrees with eager PyTorch."""


class Backend:
    """One deployment runtime. Subclasses set ``name``, ``package`` (the import name), ``distribution``
    (the pip name whose version is recorded), ``devices`` (device types it runs on) and implement
    :meth:`compile`."""

    name = ""
    package = ""
    distribution = ""
    devices = ("cpu",)
    precision = "fp32"

    def check(self, device: str = "cpu") -> None:
        """Raise a BackendError naming the fix when the package is missing or ``device`` is not supported."""
        if torch.device(device).type not in self.devices:
            raise BackendError(f"backend {self.name!r} runs on {', '.join(self.devices)}, not {device!r}")
        try:
            importlib.import_module(self.package)
        except ImportError:
            raise BackendError(f"backend {self.name!r} needs the package {self.distribution!r}: "
                               f"pip install 'archlab[deploy]' (or pip install {self.distribution})") from None

    def version(self) -> str:
        """The installed runtime's version."""
        return importlib.metadata.version(self.distribution)

    def compile(self, onnx_path: Path, input_shape: tuple[int, ...], threads: int | None):
        """Build the network of ``onnx_path`` for ``input_shape``; returns ``run(array) -> array``."""
        raise NotImplementedError


class ONNXRuntime(Backend):
    """ONNX Runtime's CPU execution provider, all graph optimisations, ``threads`` intra-op threads."""

    name, package, distribution = "onnxruntime", "onnxruntime", "onnxruntime"

    def compile(self, onnx_path, input_shape, threads):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda array: session.run(None, {name: array})[0]


class OpenVINO(Backend):
    """OpenVINO's CPU plugin with the latency hint, fp32 inference precision (no silent bf16), ``threads`` threads."""

    name, package, distribution = "openvino", "openvino", "openvino"

    def compile(self, onnx_path, input_shape, threads):
        import openvino as ov

        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
        request = compiled.create_infer_request()
        output = compiled.output(0)
        return lambda array: request.infer({0: array})[output]


#: Every runtime by name (eager PyTorch is not here: it needs no runtime).
BACKENDS: dict[str, Backend] = {b.name: b for b in (ONNXRuntime(), OpenVINO())}


def backend_names() -> list[str]:
    """The values ``--backend`` accepts: ``eager`` and every runtime of :data:`BACKENDS`."""
    return ["eager", *BACKENDS]


def get_backend(name: str) -> Backend:
    """The runtime ``name``; a BackendError listing the valid names otherwise."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; valid: {', '.join(backend_names())}")
    return BACKENDS[name]


class DeployedModel(nn.Module):
    """A network running in a deployment runtime at one fixed input shape, called like the module it came from.

    ``info`` holds what a record needs: backend, backend_version, opset, precision, threads,
    max_abs_error against eager on the check input, and adaptive_pools_rewritten."""

    def __init__(self, run, input_shape: tuple[int, ...], info: dict):
        super().__init__()
        self._run, self.input_shape, self.info = run, tuple(input_shape), info

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape) != self.input_shape:
            raise BackendError(f"this {self.info['backend']} network was built for input {self.input_shape}, "
                               f"got {tuple(x.shape)}; deploy it again for that size")
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(np.asarray(self._run(array)))


def deploy(model: nn.Module, x: torch.Tensor, backend: str, *, threads: int | None = None,
           tolerance: float = TOLERANCE, workdir=None) -> DeployedModel:
    """``model`` exported at ``x``'s shape and built in ``backend``, checked against eager PyTorch on ``x``.

    A difference larger than ``tolerance`` x max(1, largest |eager output|) is a BackendError:
    never a silent number."""
    from archlab.runtimes.export import export_onnx

    runtime = get_backend(backend)
    runtime.check(str(x.device))
    model = model.eval()
    with torch.inference_mode():
        expected = model(x)
    expected = expected[0] if isinstance(expected, (tuple, list)) else expected
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        exported = export_onnx(model, x, Path(folder) / "model.onnx")
        try:
            run = runtime.compile(exported["path"], tuple(x.shape), threads)
            got = np.asarray(run(x.detach().to("cpu", torch.float32).contiguous().numpy()))
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - a runtime's own error types; one clear message
            raise BackendError(f"{backend} cannot run {type(model).__name__} at input {tuple(x.shape)}: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    reference = expected.detach().float().cpu().numpy()
    if got.shape != reference.shape:
        raise BackendError(f"{backend} returned shape {got.shape}, eager PyTorch {reference.shape}")
    error = float(np.max(np.abs(got - reference))) if got.size else 0.0
    limit = tolerance * max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0)
    if not error <= limit:
        raise BackendError(f"{backend}'s output differs from eager PyTorch by up to {error:.3g} (limit {limit:.3g}) "
                           f"on a random input: the deployed network is not the same network")
    info = {"backend": backend, "backend_version": runtime.version(), "opset": exported["opset"],
            "precision": runtime.precision, "backend_threads": threads, "max_abs_error": error,
            "adaptive_pools_rewritten": exported["adaptive_pools_rewritten"]}
    return DeployedModel(run, tuple(x.shape), info)
