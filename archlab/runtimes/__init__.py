"""Deployment runtimes: run a network the way it is deployed (ONNX Runtime, OpenVINO, TensorRT) and time it.

``deploy(model, x, backend)`` exports ``model`` to ONNX at ``x``'s fixed size (:mod:`.export`),
builds it in the runtime (:mod:`.backends`), checks its output against eager PyTorch on ``x`` and
returns a :class:`DeployedModel`: an ``nn.Module`` whose forward runs the runtime, so every
latency measurement of archlab (profile, interleaved study timing) times it unchanged. The
runtimes are optional (``pip install archlab[deploy]``); a missing one is a clear error naming
the extra to install.
"""
from archlab.runtimes.backends import BACKENDS, Backend, BackendError, DeployedModel, backend_names, deploy
from archlab.runtimes.export import exact_adaptive_pools, export_onnx

__all__ = ["BACKENDS", "Backend", "BackendError", "DeployedModel", "backend_names", "deploy", "exact_adaptive_pools",
           "export_onnx"]
