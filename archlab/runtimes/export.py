"""Export to ONNX at a fixed input size, with adaptive average pools made exportable.

The TorchScript-based ONNX exporter (``torch.onnx.export(..., dynamo=False)``) refuses
``adaptive_avg_pool2d`` when the output size does not divide the input (Fast-SCNN's pyramid
pooling: bins 2, 3 and 6 of a 32x64 map), the classic Fast-SCNN export failure. At a fixed input
size an adaptive average pool is a fixed linear map: output bin ``i`` along an axis of length
``n`` averages input rows ``floor(i n / m)`` to ``ceil((i + 1) n / m) - 1`` (PyTorch's
definition), so it equals ``P_h @ X @ P_w^T`` with ``P[i, j] = 1 / bin size`` on the bin's rows.
:func:`exact_adaptive_pools` applies that rewrite, during export only, to the pools whose sizes
do not divide (the others export as plain average pools); :func:`pool_matrix` is the map, and
the tests check the rewrite against PyTorch's own pool (equal to float rounding).
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

DEFAULT_OPSET = 17


def pool_matrix(n: int, m: int, dtype=torch.float32) -> torch.Tensor:
    """The ``m x n`` matrix of adaptive average pooling from length ``n`` to ``m`` (PyTorch's bin rule)."""
    matrix = torch.zeros(m, n, dtype=torch.float64)
    for i in range(m):
        start, end = (i * n) // m, math.ceil((i + 1) * n / m)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix.to(dtype)


def _output_size(size, x: torch.Tensor) -> tuple[int, int]:
    size = (size, size) if isinstance(size, int) else tuple(size)
    return tuple(x.shape[-2 + k] if s is None else int(s) for k, s in enumerate(size))


def linear_adaptive_avg_pool2d(x: torch.Tensor, output_size) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, output_size)`` as two matrix products (exportable at any size)."""
    out_h, out_w = _output_size(output_size, x)
    rows = pool_matrix(x.shape[-2], out_h, x.dtype).to(x.device)
    cols = pool_matrix(x.shape[-1], out_w, x.dtype).to(x.device)
    return torch.matmul(torch.matmul(rows, x), cols.t())


class _ExactAdaptivePools(TorchFunctionMode):
    """Routes every ``adaptive_avg_pool2d`` whose output does not divide its input to the linear form."""

    def __init__(self):
        super().__init__()
        self.rewritten = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.adaptive_avg_pool2d or func is torch._C._nn.adaptive_avg_pool2d:
            x, size = args[0], args[1] if len(args) > 1 else kwargs["output_size"]
            out = _output_size(size, x)
            if any(n % m for n, m in zip(x.shape[-2:], out)):
                self.rewritten += 1
                return linear_adaptive_avg_pool2d(x, out)
        return func(*args, **kwargs)


@contextlib.contextmanager
def exact_adaptive_pools():
    """Within this block, adaptive average pools whose sizes do not divide run as exact linear maps.

    Yields the mode; its ``rewritten`` counts the pools it replaced."""
    mode = _ExactAdaptivePools()
    with mode:
        yield mode


def export_onnx(model: torch.nn.Module, x: torch.Tensor, path, *, opset: int = DEFAULT_OPSET) -> dict:
    """Export ``model`` (eval mode) at ``x``'s fixed shape to the ONNX file ``path``.

    Returns ``{"path", "opset", "adaptive_pools_rewritten"}``. Export problems are raised as
    :class:`~archlab.runtimes.backends.BackendError` naming the model's class and the first line
    of the exporter's message."""
    from archlab.runtimes.backends import BackendError

    path = Path(path)
    model = model.eval()
    try:
        with torch.no_grad(), exact_adaptive_pools() as pools, warnings.catch_warnings(), \
                contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["image"],
                              output_names=["scores"], do_constant_folding=True)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; one clear error
        raise BackendError(f"ONNX export of {type(model).__name__} at input {tuple(x.shape)} failed: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    return {"path": path, "opset": opset, "adaptive_pools_rewritten": pools.rewritten}
