"""Parity: is archlab's rebuild the same network as a reference implementation?

``compare(model_or_name, reference_module, input_size=(1, 3, H, W))`` puts archlab's model (a zoo
name, a spec JSON file, a ``Spec`` or a module) beside a reference network (an ``nn.Module``, or
``"PKG.MODULE:FACTORY"`` imported and called) and returns a :class:`ParityResult`:

- ``.table``: a pandas DataFrame, one row per quantity — parameters; MACs by every counter of
  :func:`archlab.profile.counters.count` (in G, at ``input_size``); the output shape; how many
  layers with parameters or buffers ran; leaf layers by type; and, with latency, each side's median ms.
  Columns: ``unit``, ``archlab``, ``reference``, ``difference`` (archlab − reference), ``ratio``
  (archlab / reference; for latency the median of the paired per-round ratios) and ``same``.
- ``.diff``: the :class:`~archlab.parity.diff.StructuralDiff` of the layers each network runs.
- ``.weights``: with identical structures, the outputs compared after copying archlab's
  (randomised) weights into a copy of the reference.
- ``.latency``: the :class:`~archlab.parity.timing.PairedLatency` of one interleaved run (or None).
- ``.to_markdown()`` (the section ``python -m archlab.parity --markdown`` upserts), ``.to_dict()``
  (everything, JSON-ready) and ``.lines()`` (the terminal report).

Counts, the diff and the output check run on the CPU in fp32 at batch 1, both models in eval mode
(counts describe the architecture); only the latency runs on ``device``. The input is one fixed
random image (seed 0) shared by both sides.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from archlab.parity.diff import StructuralDiff, WeightsCheck, class_differences, layer_classes, leaf_layer_types, \
    main_output, shared_weights_check, structural_diff, trace_layers
from archlab.parity.reference import ParityError, load_reference, quote_exception, resolve_model
from archlab.parity.timing import PairedLatency, interleaved_latency

__all__ = ["ParityError", "ParityResult", "compare", "load_reference", "structural_diff"]

SIDES = ("archlab", "reference")
COUNTER_NOTE_REL = 0.01  # a counter differing by more than this gets the note on module classes


def _size_text(size) -> str:
    return "x".join(str(v) for v in size)


def counter_label(key: str) -> str:
    """``macs_fvcore`` → ``MACs (fvcore)``, ``flops_torch`` → ``FLOPs (torch)``."""
    kind, _, name = key.partition("_")
    return f"{'MACs' if kind == 'macs' else 'FLOPs'} ({name})"


def count_columns(record: dict) -> dict:
    """The operation counts of a :meth:`Counts.as_record` (every ``macs_*`` and ``flops_*`` number,
    in the record's order): whatever counters :mod:`archlab.profile.counters` has."""
    return {k: v for k, v in record.items()
            if k.startswith(("macs_", "flops_")) and isinstance(v, (int, float)) and not isinstance(v, bool)}


@dataclass
class ParityResult:
    """Everything :func:`compare` measured; see the module docstring."""

    model: str
    reference: str
    input_size: tuple
    params: tuple
    counts: tuple  # per side: {counter key: figure} (empty when the counters failed on that side)
    count_errors: tuple  # per side: None or the counters' message
    output_shapes: tuple  # per side: shape of the main output
    all_output_shapes: tuple  # per side: shapes of every tensor returned
    layer_types: tuple  # per side: Counter of leaf layer types
    diff: StructuralDiff
    weights: WeightsCheck
    latency: PairedLatency | None
    settings: dict = field(default_factory=dict)
    class_differences: list = field(default_factory=list)  # (layer type, archlab classes, reference classes)

    # --- the table ---------------------------------------------------------------------------
    @property
    def table(self) -> pd.DataFrame:
        size = _size_text(self.input_size)
        rows = [("parameters", "count", *self.params)]
        keys = list(dict.fromkeys([*self.counts[0], *self.counts[1]]))
        for key in keys:
            unit = f"G{'MAC' if key.startswith('macs_') else 'FLOP'}s at {size}"
            rows.append((counter_label(key), unit, *(c[key] / 1e9 if key in c else math.nan for c in self.counts)))
        rows.append(("output shape", "N x C x H x W", *(_size_text(s) for s in self.output_shapes)))
        rows.append(("layers run (with parameters or buffers)", "calls",
                     len(self.diff.a.layers), len(self.diff.b.layers)))
        rows.append(("leaf layers", "modules", *(sum(c.values()) for c in self.layer_types)))
        for t in sorted(set(self.layer_types[0]) | set(self.layer_types[1])):
            rows.append((f"leaf layers: {t}", "modules", *(c.get(t, 0) for c in self.layer_types)))
        if self.latency is not None:
            lat = self.latency
            threads = f"{lat.threads} thread{'s' * (lat.threads != 1)}"
            rows.append(("latency (eager, median)", f"ms at {_size_text(lat.input_size)}, {threads}",
                         lat.a_ms, lat.b_ms))
        frame = pd.DataFrame(rows, columns=["quantity", "unit", *SIDES]).set_index("quantity")
        pairs = list(zip(frame["archlab"], frame["reference"]))
        frame["difference"] = pd.Series([_difference(a, b) for a, b in pairs], index=frame.index, dtype=object)
        ratio = [_ratio(a, b) for a, b in pairs]
        same = [_same(a, b) for a, b in pairs]
        if self.latency is not None:  # the paired figure, not the ratio of the two medians; never "same"
            ratio[-1], same[-1] = self.latency.ratio_median, None
        frame["ratio"] = pd.Series(ratio, index=frame.index, dtype=object)
        frame["same"] = pd.Series(same, index=frame.index, dtype=object)
        return frame

    # --- reports -----------------------------------------------------------------------------
    def lines(self) -> list[str]:
        """The terminal report: the table, the structural diff, the output check, latency."""
        frame = self.table
        shown = pd.DataFrame({col: [_cell(q, col, v, self) for q, v in frame[col].items()]
                              for col in ["unit", *SIDES, "difference", "ratio"]}, index=frame.index)
        out = [f"{self.model} (archlab) vs {self.reference} (reference)", shown.to_string(), ""]
        out += self.diff.lines()
        out.append("same weights: " + self.weights.verdict())
        note = self.counters_note()
        if note:
            out.append(note)
        for side, error in zip(SIDES, self.count_errors):
            if error:
                out.append(f"{side}: counters failed ({error}); its MAC cells are empty")
        if self.latency is not None:
            out.append("latency: " + self.latency.describe())
        return out

    def counters_note(self) -> str | None:
        """Why a counter can disagree between the sides although their layers are the same: it
        goes by exact module type, and the sides implement a layer type with other classes."""
        frame = self.table
        differ = [q for q in frame.index if q.startswith(("MACs", "FLOPs")) and frame.loc[q, "ratio"] is not None
                  and abs(frame.loc[q, "ratio"] - 1) > COUNTER_NOTE_REL]
        if not differ or not self.class_differences:
            return None
        kinds = "; ".join(f"{t} is {', '.join(a)} in archlab and {', '.join(b)} in the reference"
                          for t, a, b in self.class_differences)
        return (f"{', '.join(differ)} differ{'s' * (len(differ) == 1)} by more than {COUNTER_NOTE_REL:.0%}; the sides "
                f"implement the same layer types with other classes ({kinds}): a counter that matches exact "
                "module types counts such layers differently, one that reads operators does not")

    def to_markdown(self) -> str:
        from archlab.parity.report import section

        return section(self)

    def to_dict(self) -> dict:
        frame = self.table
        table = [{"quantity": q, **{k: _json(v) for k, v in row.items()}} for q, row in frame.iterrows()]
        return {"model": self.model, "reference": self.reference, "input_size": list(self.input_size),
                "params": dict(zip(SIDES, self.params)), "counts": dict(zip(SIDES, self.counts)),
                "count_errors": dict(zip(SIDES, self.count_errors)),
                "output_shape": {s: list(v) for s, v in zip(SIDES, self.output_shapes)},
                "output_shape_same": self.output_shapes[0] == self.output_shapes[1],
                "all_output_shapes": {s: [list(x) for x in v] for s, v in zip(SIDES, self.all_output_shapes)},
                "leaf_layers_by_type": {s: dict(sorted(c.items())) for s, c in zip(SIDES, self.layer_types)},
                "class_differences": [list(c) for c in self.class_differences], "counters_note": self.counters_note(),
                "structure": self.diff.as_dict(), "same_weights_check": self.weights.as_dict(),
                "latency": self.latency.as_dict() if self.latency else None, "table": table,
                "settings": self.settings}


def _difference(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a - b
    return None


def _ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return a / b
    return None


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0))
    return a == b


def _json(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _cell(quantity: str, column: str, value, result: ParityResult) -> str:
    """One table cell as text: counts with thousands separators, G with 3 decimals, ms with 2."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if column == "ratio":
        text = f"{value:.3f}"
        if quantity.startswith("latency") and result.latency is not None:
            lat = result.latency
            text += f" (paired, {lat.ratio_min:.3f}–{lat.ratio_max:.3f})"
        return text
    if isinstance(value, str):
        return value
    if quantity.startswith(("MACs", "FLOPs")):
        return f"{value:+.3f}" if column == "difference" else f"{value:.3f}"
    if quantity.startswith("latency"):
        return f"{value:+.2f}" if column == "difference" else f"{value:.2f}"
    return f"{int(value):+,}" if column == "difference" else f"{int(value):,}"


# --------------------------------------------------------------------------------------------
# compare


def _normalise(input_size, argument: str) -> tuple:
    try:
        size = tuple(int(v) for v in input_size)
    except (TypeError, ValueError):
        raise ParityError(argument, str(input_size), "expected (N, C, H, W) or (H, W) of positive integers") from None
    if len(size) == 2:
        size = (1, 3) + size
    if len(size) != 4 or min(size) < 1:
        raise ParityError(argument, size, "expected (N, C, H, W) or (H, W) of positive integers, e.g. 1024x2048")
    return size


def _input(size, seed: int = 0) -> torch.Tensor:
    return torch.randn(size, generator=torch.Generator().manual_seed(seed))


def _trace(model, x, side: str, argument: str):
    try:
        return trace_layers(model, x)
    except ParityError:
        raise
    except Exception as exc:  # noqa: BLE001 - a forward that fails at this size, quoted
        hint = "; try a size both networks' strides divide (1024x2048, 512x1024, 256x512)"
        message = f"the {side}'s forward failed at {_size_text(x.shape)}: {quote_exception(exc)}{hint}"
        raise ParityError(argument, tuple(x.shape[-2:]), message) from None


def _count(model, x):
    from archlab.profile.counters import count

    try:
        counts = count(model, x)
    except Exception as exc:  # noqa: BLE001 - reported in the table as empty cells with the reason
        return {}, quote_exception(exc)
    return count_columns(counts.as_record()), None


def compare(model_or_name, reference_module, input_size=(1, 3, 1024, 2048), *, latency: bool = True,
            latency_size=(1, 3, 512, 1024), threads: int | None = None, rounds: int = 10, forwards: int = 5,
            warmup: int = 3, device: str = "cpu", reference_path=(), reference_kwargs: dict | None = None,
            num_classes: int = 19, allow_shape_mismatch: bool = False, weights_check: bool = True,
            command: str | None = None, reference_source: str | None = None, progress=None) -> ParityResult:
    """Compare archlab's ``model_or_name`` with ``reference_module`` (an ``nn.Module`` or
    ``"PKG.MODULE:FACTORY"``, imported with ``reference_path`` on ``sys.path`` and called with
    ``reference_kwargs``). Counts, the structural diff and the output checks at ``input_size``;
    ``latency`` at ``latency_size`` on ``device``: ``rounds`` interleaved rounds of ``forwards``
    forwards per side after ``warmup``, at ``threads`` CPU threads. A reference whose main output
    has another shape than archlab's is an error unless ``allow_shape_mismatch``. ``progress(text)``
    is told what runs next. ``reference_source`` says where the reference code came from (kept
    in the settings and the report). Every failure a user can cause is a :class:`ParityError`.
    """
    say = progress or (lambda text: None)
    size = _normalise(input_size, "input_size")
    lat_size = _normalise(latency_size, "latency_size") if latency else None
    dev = _latency_options(device, rounds, forwards, warmup, threads) if latency else None
    a, name = resolve_model(model_or_name, size, num_classes=num_classes)
    if isinstance(reference_module, str):
        say(f"loading {reference_module}")
        b, ref_name = load_reference(reference_module, reference_path, reference_kwargs)
    elif isinstance(reference_module, nn.Module):
        b, ref_name = reference_module, type(reference_module).__name__
    else:
        raise ParityError("reference_module", type(reference_module).__name__,
                          "expected an nn.Module or 'PKG.MODULE:FACTORY'")
    a.to("cpu")
    b.to("cpu")
    x = _input(size)

    say(f"tracing both forwards at {_size_text(size)}")
    ta = _trace(a, x, "archlab model", "input_size")
    tb = _trace(b, x, "reference", "input_size")
    ya, yb = main_output(ta.output), main_output(tb.output)
    if ya is None:
        raise ParityError("model_or_name", name, f"its forward returned {type(ta.output).__name__} with no tensor")
    if yb is None:
        raise ParityError("reference_module", ref_name, f"its forward returned {type(tb.output).__name__} with no "
                                                        "tensor in it; FACTORY must return the network itself")
    shape_a, shape_b = tuple(ya.shape), tuple(yb.shape)
    if shape_a != shape_b and not allow_shape_mismatch:
        raise ParityError("reference_module", ref_name,
                          f"its output is {_size_text(shape_b)} but archlab's {name} gives {_size_text(shape_a)} at "
                          f"{_size_text(size)}; match the classes (--reference-kwargs '{{\"num_classes\": "
                          f"{shape_a[1] if len(shape_a) > 1 else '?'}}}' or --num-classes) or pass "
                          "--allow-shape-mismatch to compare anyway")
    diff = structural_diff(ta, tb)

    say(f"counting archlab's {name}")
    counts_a, error_a = _count(a, x)
    say(f"counting the reference {ref_name}")
    counts_b, error_b = _count(b, x)

    checked = WeightsCheck(False, "not asked for")
    if weights_check:
        if shape_a != shape_b:
            checked = WeightsCheck(False, "the output shapes differ")
        else:
            say("running both with archlab's weights")
            try:
                checked = shared_weights_check(a, b, diff, x)
            except Exception as exc:  # noqa: BLE001 - reported, never fatal
                checked = WeightsCheck(False, f"the copy failed: {quote_exception(exc)}")

    paired = None
    if latency:
        paired = _latency(a, b, lat_size, dev, rounds, forwards, warmup, threads, say)

    from archlab.profile.record import cpu_name, device_name

    settings = {"input_size": list(size), "latency_size": list(lat_size) if lat_size else None,
                "device": device, "device_name": device_name(device) if latency else cpu_name(),
                "cpu": cpu_name(), "torch": torch.__version__, "date": datetime.date.today().isoformat(),
                "threads": paired.threads if paired else torch.get_num_threads(),
                "rounds": rounds if latency else None, "forwards_per_round": forwards if latency else None,
                "warmup": warmup if latency else None, "reference_kwargs": reference_kwargs or {},
                "reference_path": [str(p) for p in reference_path], "command": command,
                "reference_source": reference_source}
    return ParityResult(model=name, reference=ref_name, input_size=size, params=(ta.params_total, tb.params_total),
                        counts=(counts_a, counts_b), count_errors=(error_a, error_b),
                        output_shapes=(shape_a, shape_b),
                        all_output_shapes=(_shapes(ta.output), _shapes(tb.output)),
                        layer_types=(leaf_layer_types(a), leaf_layer_types(b)), diff=diff, weights=checked,
                        latency=paired, settings=settings,
                        class_differences=class_differences(layer_classes(a), layer_classes(b)))


def _shapes(output) -> tuple:
    from archlab.parity.diff import output_shapes

    return output_shapes(output)


def _latency_options(device, rounds, forwards, warmup, threads) -> torch.device:
    """Check the timing options before anything runs; returns the device."""
    for value, name in ((rounds, "rounds"), (forwards, "forwards"), (warmup, "warmup")):
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "warmup" else 1):
            raise ParityError(name, value, f"must be an integer >= {0 if name == 'warmup' else 1}")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ParityError("threads", threads, "must be a positive integer")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ParityError("device", str(device), "expected cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ParityError("device", str(device), "expected cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParityError("device", str(device), "CUDA is not available on this machine; use cpu")
    return dev


def _latency(a, b, size, dev, rounds, forwards, warmup, threads, say) -> PairedLatency:
    from archlab.profile.latency import eval_mode

    xl = _input(size).to(dev)
    a.to(dev)
    b.to(dev)
    try:
        for model, side in ((a, "archlab model"), (b, "reference")):
            try:
                check = getattr(model, "check_input", None)
                if callable(check):
                    check(xl)
                with eval_mode(model), torch.inference_mode():
                    model(xl)
            except Exception as exc:  # noqa: BLE001
                raise ParityError("latency_size", size[-2:], f"the {side}'s forward failed at {_size_text(size)}: "
                                                             f"{quote_exception(exc)}") from None
        say(f"timing both, interleaved: {rounds} rounds of {forwards} forwards at {_size_text(size)}")
        return interleaved_latency(a, b, xl, rounds=rounds, forwards=forwards, warmup=warmup, threads=threads)
    finally:
        a.to("cpu")
        b.to("cpu")
