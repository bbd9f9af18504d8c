"""Assemble one profile record: counts, latency, memory and roofline under stated settings.

A record is a flat mapping; every figure carries its unit in its key (``latency_ms_median``,
``peak_mem_mb``, ``macs_fvcore``), and the record carries what is needed to reproduce it (spec
hash and JSON, input size, batch, dtype, device name, threads, deploy options, versions, date).
Counts are per image (batch 1, fp32, BatchNorm unfolded): they describe the architecture, not
the deploy settings, which affect only the measured figures.
"""
from __future__ import annotations

import datetime
import platform
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import torch
from torch import nn

from archlab.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ProfileSettings:
    """What to measure and how. ``input_size`` is (N, C, H, W); N is the batch for latency.

    The deploy fields (device … cudnn_benchmark) carry the names of
    :class:`archlab.profile.deploy.DeploySettings`, which is built from them by name.
    """

    input_size: tuple = (1, 3, 512, 1024)
    device: str = "cpu"
    dtype: str = "fp32"
    channels_last: bool = False
    fuse_bn: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    backend: str = "eager"
    latency: bool = True
    memory: bool = True
    warmup: int = 10
    runs: int = 30
    threads: int | None = None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_name()


def resolve_model(model_or_spec, input_size) -> tuple[nn.Module, str, object]:
    """A zoo name, a Spec or an nn.Module → (module, name, spec or None), validated at ``input_size``."""
    import archlab
    from archlab.spec import Spec

    if isinstance(model_or_spec, str):
        model_or_spec = archlab.get_spec(model_or_spec)
    if isinstance(model_or_spec, Spec):
        return archlab.build(model_or_spec, input_size=input_size), model_or_spec.name, model_or_spec
    if isinstance(model_or_spec, nn.Module):
        spec = getattr(model_or_spec, "spec", None)
        if spec is not None:
            archlab.graph.check_input_size(spec, input_size)
        name = spec.name if spec is not None else type(model_or_spec).__name__
        return model_or_spec, name, spec
    raise SpecError(f"archlab takes a zoo model name, an archlab.Spec or an nn.Module as the model, "
                    f"got {type(model_or_spec).__name__}")


def normalise_size(input_size) -> tuple[int, int, int, int]:
    size = tuple(int(v) for v in input_size)
    if len(size) == 2:
        size = (1, 3) + size
    if len(size) != 4 or min(size) < 1:
        raise SpecError(f"input_size={input_size!r} must be (N, C, H, W) or (H, W) with positive entries")
    return size


@dataclass(frozen=True)
class ProfileResult:
    """What :func:`profile` measured.

    ``record``: the flat record, one figure per key with its unit in the key (``params`` a count,
    ``macs_*`` MACs and ``flops_torch`` FLOPs per image, ``latency_ms_median`` milliseconds per
    forward of the batch, ``fps`` images per second, ``peak_mem_mb`` MiB, ...) and the settings that
    reproduce it. ``per_node``: with ``breakdown=True`` (and counts), a pandas DataFrame indexed by
    node id, in execution order: ``block`` (for a spec: the node's block), ``params``, each
    counter's MACs or FLOPs (``macs_fvcore`` ... ``flops_torch``), ``macs_reconciled``,
    ``counters_note`` and, with latency, ``latency_share`` (fraction of the forward's time) and
    ``latency_ms``; its parameter and count columns sum exactly to the record's. ``None`` when it
    was not computed.
    """

    record: dict
    per_node: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """Plain data: ``{"record": the record, "per_node": one dict per node, with its id under
        "node", or None}`` (the per-node figures as Python numbers, in the table's units)."""
        rows = None if self.per_node is None else self.per_node.rename_axis("node").reset_index().to_dict("records")
        return {"record": dict(self.record), "per_node": rows}


def profile(model_or_spec, input_size=(1, 3, 512, 1024), *, breakdown: bool = False, counts: bool = True,
            settings: ProfileSettings | None = None, **options) -> ProfileResult:
    """Profile a zoo model name, a spec or a module; returns a :class:`ProfileResult`: ``.record``,
    the flat record, and ``.per_node``, the per-node table (with ``breakdown=True``; else ``None``).

    ``input_size`` is (N, C, H, W) or (H, W); N is the batch for latency, counts are per image.
    ``options`` are :class:`ProfileSettings` fields (device, dtype, channels_last, fuse_bn, compile,
    cudnn_benchmark, backend, latency, memory, warmup, runs, threads). ``counts=False`` skips the counters.
    With ``breakdown=True`` the per-node table has one row per spec node with parameters, each
    counter's MACs and its share of the measured latency; the parameter and MAC columns sum exactly
    to the record's; ``counters_note`` says, where two counters differ by more than 2% on a node,
    which operators cause it.
    """
    from archlab.profile import counters, deploy, latency, memory, roofline

    size = normalise_size(input_size)
    settings = settings or ProfileSettings(input_size=size, **options)
    if settings.input_size != size:
        settings = ProfileSettings(**{**asdict(settings), "input_size": size})
    model, name, spec = resolve_model(model_or_spec, size)
    model.eval()
    batch = size[0]
    one = (1,) + size[1:]
    record = {
        "model": name,
        "spec_hash": spec.content_hash() if spec is not None else None,
        "input_size": "x".join(map(str, size)),
        "input_h": size[2], "input_w": size[3], "batch": batch,
        "dtype": settings.dtype, "device": settings.device, "device_name": device_name(settings.device),
        "fuse_bn": settings.fuse_bn, "channels_last": settings.channels_last, "compile": settings.compile,
        "cudnn_benchmark": settings.cudnn_benchmark, "backend": settings.backend,
        "torch_version": torch.__version__, "archlab_version": _version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    table = None
    if counts:
        c = counters.count(model, torch.zeros(one))
        record.update(c.as_record())
        table = c.per_node.copy()
        notes = {}
        for d in c.disagreements:
            notes.setdefault(d["node"], []).append(f"{' vs '.join(d['counters'])} "
                                                   f"{d['rel_diff']:.0%}: {d['explanation']}")
        table["counters_note"] = ["; ".join(notes.get(node, [])) for node in table.index]
    if settings.latency or settings.memory:
        shared = {f.name: getattr(settings, f.name) for f in fields(deploy.DeploySettings) if f.name != "batch"}
        dsettings = deploy.DeploySettings(**shared, batch=batch)
        prepared, x = deploy.prepare(model, size, dsettings, threads=settings.threads)
        record["bn_folded"] = getattr(prepared, "bn_folded", 0)
        record["bn_unfolded"] = getattr(prepared, "bn_unfolded", deploy.count_batchnorms(prepared))
        record.update(getattr(prepared, "info", {}))   # a runtime's name, version, opset, threads, error
        if settings.latency:
            lat = latency.measure_latency(prepared, x, warmup=settings.warmup, runs=settings.runs,
                                          threads=settings.threads, cudnn_benchmark=settings.cudnn_benchmark)
            record.update(lat.as_record())
            peaks = roofline.device_peaks(settings.device, deploy.DTYPES[settings.dtype], threads=lat.threads)
            record.update({f"device_{k}": v for k, v in peaks.items()})
            if "macs_reconciled" in record:
                record.update(roofline.achieved(2 * record["macs_reconciled"] * batch, lat.median_ms, peaks))
        if settings.memory and settings.backend == "eager":   # a runtime's memory is its own, not torch's
            peak_mb, method = memory.peak_memory(prepared, x)
            record.update({"peak_mem_mb": peak_mb, "peak_mem_method": method})
        if breakdown and table is not None and settings.latency and settings.backend == "eager":
            shares = latency.node_latency_shares(getattr(prepared, "_orig_mod", prepared), x)
            table["latency_share"] = [shares.get(node, 0.0) for node in table.index]
            if "latency_ms_median" in record:
                table["latency_ms"] = table["latency_share"] * record["latency_ms_median"]
    if spec is not None:
        record["spec_json"] = spec.to_json(indent=None)
    if not breakdown:
        return ProfileResult(record)
    if table is not None and spec is not None:
        blocks = {n.id: n.block for n in spec.nodes}
        table.insert(0, "block", [blocks.get(i, "") for i in table.index])
    return ProfileResult(record, table)


def _version() -> str:
    import archlab

    return archlab.__version__
