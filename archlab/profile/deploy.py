"""Deploy options: BatchNorm folding, channels_last, fp16/bf16, torch.compile, batch size, runtime.

``prepare(model, input_size, settings)`` returns a deployed copy of the model and a random
example input that matches it (device, dtype, memory format, batch); the caller's model is never
modified. ``fold_batchnorm`` rewrites every ``Conv2d → BatchNorm2d`` pair that sits next to each
other in an ``nn.Sequential`` (ConvBNAct, shortcut projections) into one conv with a bias:

    y = γ (W x + b − μ) / √(σ² + ε) + β  =  (s W) x + (s (b − μ) + β),   s = γ / √(σ² + ε)

A BatchNorm that does not directly follow a conv (MDA's BN before a PReLU, a BN after a sum) has
no conv to fold into; it stays and is counted as unfolded.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


# --------------------------------------------------------------------------- BatchNorm folding


def _fold_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Rewrite ``conv``'s weight and bias in place so that ``conv`` alone computes ``bn(conv(x))``.

    The arithmetic is done in float64 and cast back to the conv's dtype.
    """
    w = conv.weight.detach().to(torch.float64)
    b = conv.bias.detach().to(torch.float64) if conv.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype,
                                                                                         device=w.device)
    mean = bn.running_mean.detach().to(torch.float64)
    var = bn.running_var.detach().to(torch.float64)
    gamma = bn.weight.detach().to(torch.float64) if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().to(torch.float64) if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter((w * scale.reshape(-1, 1, 1, 1)).to(dtype), requires_grad=conv.weight.requires_grad)
    conv.bias = nn.Parameter(((b - mean) * scale + beta).to(dtype), requires_grad=conv.weight.requires_grad)


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
            and bn.running_mean is not None and bn.running_var is not None
            and bn.num_features == conv.out_channels)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every foldable BatchNorm folded into its conv.

    A BatchNorm2d is folded when it directly follows a Conv2d in a plain ``nn.Sequential`` (or a
    subclass that keeps Sequential's forward, as ConvBNAct does): the conv gets the BN's affine
    transform of its running statistics and the BN becomes ``nn.Identity``. The copy carries
    ``bn_folded`` (how many were folded) and ``bn_unfolded`` (BatchNorm modules left, such as
    MDA's BN before a PReLU, which has no conv before it), and ``bn_unfolded_names``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"fold_batchnorm takes an nn.Module, got {type(model).__name__}")
    folded_model = copy.deepcopy(model).eval()
    folded = 0
    for module in folded_model.modules():
        if not isinstance(module, nn.Sequential) or type(module).forward is not nn.Sequential.forward:
            continue
        for i in range(1, len(module)):
            if _foldable(module[i - 1], module[i]):
                _fold_pair(module[i - 1], module[i])
                module[i] = nn.Identity()
                folded += 1
    left = [name for name, m in folded_model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # plain attributes (not buffers): they describe the copy and travel with it through deepcopy
    folded_model.bn_folded = folded
    folded_model.bn_unfolded = len(left)
    folded_model.bn_unfolded_names = tuple(left)
    return folded_model


def count_batchnorms(model: nn.Module) -> int:
    """Number of BatchNorm modules (any dimensionality) in ``model``."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


# --------------------------------------------------------------------------- settings and prepare


@dataclass(frozen=True)
class DeploySettings:
    """How a model is deployed for measurement. ``dtype`` is ``"fp32"``, ``"fp16"`` or ``"bf16"``."""

    device: str = "cpu"
    dtype: str = "fp32"
    channels_last: bool = False
    fuse_bn: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    batch: int = 1
    backend: str = "eager"   # eager PyTorch, or a runtime of archlab.runtimes (onnxruntime, openvino)

    def as_record(self) -> dict:
        """The settings as record fields (``torch_compile`` rather than the builtin's name)."""
        record = asdict(self)
        record["torch_compile"] = record.pop("compile")
        return record


def check_settings(settings: DeploySettings) -> torch.device:
    """Validate ``settings``; return the torch device. Every mistake is a ValueError saying what is valid."""
    if not isinstance(settings, DeploySettings):
        raise ValueError(f"settings must be a DeploySettings, got {type(settings).__name__}")
    try:
        device = torch.device(settings.device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={settings.device!r} is not a device; valid: 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device={settings.device!r}: valid devices are 'cpu', 'cuda' or 'cuda:N'")
    if settings.dtype not in DTYPES:
        raise ValueError(f"dtype={settings.dtype!r}: valid dtypes are {', '.join(DTYPES)}")
    if not isinstance(settings.batch, int) or isinstance(settings.batch, bool) or settings.batch < 1:
        raise ValueError(f"batch={settings.batch!r} must be a positive integer")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={settings.device!r} but torch.cuda.is_available() is False (PyTorch "
                             f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device={settings.device!r}: only {torch.cuda.device_count()} CUDA device(s); "
                             f"valid: cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
        if settings.dtype == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"bf16 is not supported on {torch.cuda.get_device_name(device)}; use fp16 or fp32")
    else:
        if settings.dtype == "fp16":
            raise ValueError("fp16 needs --device cuda; on CPU use fp32 or bf16")
        if settings.cudnn_benchmark:
            raise ValueError("cudnn_benchmark applies to --device cuda only; leave it off on CPU")
    if settings.backend != "eager":
        from archlab.runtimes.backends import get_backend

        get_backend(settings.backend).check(settings.device)
        if settings.dtype != "fp32" or settings.compile:
            raise ValueError(f"backend {settings.backend!r} runs the exported fp32 network: use --dtype fp32 and no "
                             f"--compile with it (the runtime does its own graph optimisation)")
    return device


def _full_size(model: nn.Module, input_size, batch: int) -> tuple[int, int, int, int]:
    size = tuple(input_size)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size) or len(size) not in (2, 3, 4):
        raise ValueError(f"input_size={input_size!r} must be (H, W), (C, H, W) or (N, C, H, W) with positive ints")
    spec = getattr(model, "spec", None)
    if len(size) == 2:
        size = (getattr(spec, "in_channels", 3),) + size
    if len(size) == 3:
        size = (batch,) + size
    if size[0] != batch:
        raise ValueError(f"input_size={input_size!r} has batch {size[0]} but settings.batch={batch}; make them agree")
    if spec is not None:
        from archlab.graph import check_input_size

        check_input_size(spec, size)  # SpecError naming the nearest valid size
    return size


def prepare(model: nn.Module, input_size, settings: DeploySettings,
            threads: int | None = None) -> tuple[nn.Module, torch.Tensor]:
    """Apply ``settings`` to a copy of ``model``; return ``(deployed model, example input)``.

    Order: fold BatchNorm (in fp32), move to device and dtype, channels_last, torch.compile or a
    runtime (``backend``: exported at the input's size, built with ``threads`` threads, default
    torch's, and checked against the eager copy; see :mod:`archlab.runtimes`). The
    example input is random normal of shape (batch, C, H, W) on the same device, dtype and memory
    format. The copy is in eval mode and carries ``bn_folded`` / ``bn_unfolded`` (0 / the BN count
    when ``fuse_bn`` is off). ``torch.compile`` compiles lazily, so with ``compile=True`` one
    forward runs here and a failure (no C++ compiler, an unsupported op) is raised as a
    RuntimeError naming the cause. ``cudnn_benchmark`` is applied by the latency measurement.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"prepare takes an nn.Module, got {type(model).__name__}")
    device = check_settings(settings)
    size = _full_size(model, input_size, settings.batch)
    if settings.fuse_bn:
        deployed = fold_batchnorm(model)
    else:
        deployed = copy.deepcopy(model).eval()
        deployed.bn_folded, deployed.bn_unfolded = 0, count_batchnorms(deployed)
    dtype = DTYPES[settings.dtype]
    deployed = deployed.to(device=device, dtype=dtype)
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    if settings.channels_last:
        deployed = deployed.to(memory_format=torch.channels_last)
    x = torch.randn(size, device=device, dtype=dtype).contiguous(memory_format=memory_format)
    if settings.compile:
        deployed = _compile(deployed, x)
    if settings.backend != "eager":
        from archlab.runtimes import deploy

        folded = (deployed.bn_folded, deployed.bn_unfolded)
        deployed = deploy(deployed, x, settings.backend, threads=threads or torch.get_num_threads())
        deployed.bn_folded, deployed.bn_unfolded = folded
    return deployed, x


def _compile(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """``torch.compile(model)`` with one forward run now, so a failure surfaces here, clearly."""
    try:
        compiled = torch.compile(model)
        with torch.inference_mode():
            compiled(x)
    except Exception as exc:  # noqa: BLE001 - any compiler failure is reported with its cause
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise RuntimeError(f"torch.compile failed ({type(exc).__name__}: {first}). On CPU it needs a working C++ "
                           f"compiler; on CUDA, Triton. Run without --compile to measure the eager model.") from exc
    return compiled


def deploy_record(settings: DeploySettings, model: nn.Module | None = None) -> dict:
    """The settings as record fields, plus ``bn_folded`` / ``bn_unfolded`` from a prepared model."""
    record = settings.as_record()
    if model is not None:
        record["bn_folded"] = int(getattr(model, "bn_folded", 0))
        record["bn_unfolded"] = int(getattr(model, "bn_unfolded", count_batchnorms(model)))
        record.update(getattr(model, "info", {}))   # a runtime's version, opset, threads, error against eager
    return record
