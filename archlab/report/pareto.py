"""Speed-accuracy frontiers: which variants are not beaten on both axes, and a plot of them.

A point is *dominated* when another point is at least as good on both axes and strictly better
on one; the non-dominated set is the Pareto front (Pareto optimality as used for accuracy-cost
trade-offs, e.g. Tan & Le, "EfficientNet", ICML 2019, Fig. 1 and 5; Cai et al., "Once-for-All",
ICLR 2020). :func:`pareto_mask` computes it by one sort and a sweep (Kung, Luccio & Preparata,
"On finding the maxima of a set of vectors", J. ACM 1975).

Records are archlab's flat rows, units in the column names (``macs_fvcore`` MACs per image,
``latency_ms_median``, ``fps``, ``params``, ``miou`` as a fraction). :func:`axis_unit` turns a
column name into an axis title with its unit and the factor the values are shown at.
Published figures (``published_*`` columns) come from other hardware and datasets: they are
drawn as separate reference markers, never mixed into the measured front.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

MAX_LABELLED = 25          # above this many points, only the front is labelled

FRONT_COLOUR = "#1f5fa8"
DOMINATED_COLOUR = "#9a9a9a"
REFERENCE_COLOUR = "#c2410c"


def pareto_mask(x, y, minimize_x: bool = True, maximize_y: bool = True) -> np.ndarray:
    """Boolean mask of the non-dominated points of ``(x, y)``.

    A point is dominated when another is at least as good on both axes and strictly better on
    one, so exact duplicates are both kept. Rows with a NaN (or infinite) coordinate are never
    on the front and dominate nothing.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    a = x if minimize_x else -x          # both turned into "smaller is better"
    b = -y if maximize_y else y
    mask = np.zeros(x.size, dtype=bool)
    finite = np.flatnonzero(np.isfinite(a) & np.isfinite(b))
    order = finite[np.lexsort((b[finite], a[finite]))]     # by a, then b
    best_before = np.inf                 # smallest b among points with a strictly smaller a
    start = 0
    while start < order.size:
        stop = start
        while stop < order.size and a[order[stop]] == a[order[start]]:
            stop += 1
        group = order[start:stop]
        group_best = b[group[0]]         # the group is sorted by b
        for i in group:
            mask[i] = not (best_before <= b[i] or group_best < b[i])
        best_before = min(best_before, group_best)
        start = stop
    return mask


_COUNTER = {"fvcore": "fvcore", "thop": "thop", "torch": "torch", "reconciled": "reconciled"}


def axis_unit(column: str) -> tuple[str, float]:
    """``(axis title, factor)`` for a record column: the values are drawn multiplied by ``factor``.

    ``macs_fvcore`` -> ("GMACs (fvcore)", 1e-9); ``params`` -> ("parameters (M)", 1e-6);
    ``latency_ms_median`` -> ("latency (ms, median)", 1); ``fps`` -> ("FPS", 1);
    ``miou`` -> ("mIoU (%)", 100); ``published_gflops`` -> ("published GFLOPs", 1); any other
    column keeps its name and its values.
    """
    name = column.lower()
    if m := re.fullmatch(r"macs_(\w+)", name):
        return f"GMACs ({_COUNTER.get(m[1], m[1])})", 1e-9
    if m := re.fullmatch(r"flops_(\w+)", name):
        return f"GFLOPs ({m[1]})", 1e-9
    if name in ("params", "parameters"):
        return "parameters (M)", 1e-6
    if m := re.fullmatch(r"latency_ms_(\w+)", name):
        return f"latency (ms, {m[1]})", 1.0
    if name == "latency_ms":
        return "latency (ms)", 1.0
    if name == "fps":
        return "FPS", 1.0
    if name == "miou":
        return "mIoU (%)", 100.0
    if m := re.fullmatch(r"miou_(\w+)", name):
        return f"mIoU, {m[1].replace('_', ' ')} (%)", 100.0
    if name == "peak_mem_mb":
        return "peak memory (MB)", 1.0
    if m := re.fullmatch(r"published_(\w+)", column):
        return "published " + _published_title(m[1]), 1.0
    return column, 1.0


def _published_title(rest: str) -> str:
    """Published figures are stored in the paper's own unit, named by the suffix."""
    known = {"gflops": "GFLOPs", "gmacs": "GMACs", "fps": "FPS", "params_m": "parameters (M)",
             "miou_pct": "mIoU (%)", "latency_ms": "latency (ms)"}
    if rest.lower() in known:
        return known[rest.lower()]
    if rest.endswith("_pct"):
        return rest[:-4].replace("_", " ") + " (%)"
    if rest.endswith("_M"):
        return rest[:-2].replace("_", " ") + " (M)"
    return rest.replace("_", " ")


def _check_columns(frame: pd.DataFrame, columns: dict[str, str | None], what: str = "frame") -> None:
    for role, column in columns.items():
        if column is not None and column not in frame.columns:
            raise ValueError(f"{role} column {column!r} is not in the {what}; available columns: "
                             f"{', '.join(map(str, frame.columns))}")


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def pareto_figure(frame: pd.DataFrame, x: str, y: str, *, label: str | None = "variant", minimize_x: bool = True,
                  maximize_y: bool = True, reference: pd.DataFrame | None = None,
                  reference_label: str = "published", reference_twin_y: str | None = None,
                  reference_x: str | None = None, reference_y: str | None = None, title: str = "",
                  notes: str = "", logx: bool | None = None, percent_y: bool | None = None):
    """The figure :func:`pareto_plot` saves (a matplotlib Figure; the caller closes it).

    ``fig.axes[0]`` holds the measured points; its ``front_labels`` attribute lists the labels
    drawn for front points, in x order, and ``front_mask`` the :func:`pareto_mask` of ``frame``'s rows.
    """
    import matplotlib

    matplotlib.use("Agg")

    frame, xs, ys, labels, finite = _measured_points(frame, x, y, label)
    x_title, x_scale, y_title, y_scale = _axis_titles(x, y, percent_y)
    px, py = xs * x_scale, ys * y_scale
    ref = None
    if reference is not None and len(reference):
        ref = _reference_points(reference, reference_x or x, reference_y or y, label)
    mask = pareto_mask(xs, ys, minimize_x, maximize_y)
    if logx is None:
        logx = _default_logx(px, ref)

    wrapped = _wrap_notes(notes)
    has_iqr, has_ci = _has_latency_iqr(frame, x), _has_interval(frame, y)
    footer = _footer_inches(2 + (~mask).any() + has_iqr + has_ci + (ref is not None), wrapped)
    if logx and (px <= 0).any():
        raise ValueError(f"logx needs positive {x!r} values; the smallest is {float(xs.min()):g}")
    fig, ax, width, height = _new_figure(footer, bool(reference_twin_y and ref is not None), logx)

    _draw_error_bars(ax, frame, y, px, py, y_scale, y_title, has_iqr)
    fx, fy, step = _draw_front(ax, px, py, mask, minimize_x)
    _draw_titles(ax, x_title, y_title, minimize_x, maximize_y, title)
    texts = _point_texts(ax, px, py, mask, labels)

    handles, names = ax.get_legend_handles_labels()
    ref_ax = ax
    if ref is not None:
        ref_ax, handle, name = _draw_reference(ax, ref, x_title, y_title, reference_label, reference_twin_y, texts)
        handles.append(handle)
        names.append(name)
    _set_limits(ax, ref_ax, ref, frame, y, px, py, y_scale, has_ci, logx)
    _draw_legend_and_notes(fig, handles, names, wrapped, footer, width, height)
    points = [(ax, px, py)] + ([(ref_ax, ref["x"], ref["y"])] if ref is not None else [])
    placed = _place_labels(fig, ax, texts, points, [(ax, *_staircase(fx, fy, step))])
    ax.front_labels = [t for t, style in placed if style == "front"]
    ax.front_mask = np.zeros(finite.size, dtype=bool)
    ax.front_mask[finite] = mask
    return fig


def _text_labels(frame: pd.DataFrame, column: str | None, rows: int) -> list[str | None]:
    """The ``column`` values as text (None for a missing value, or for every row without a column)."""
    if column is None:
        return [None] * rows
    return [None if pd.isna(v) else str(v) for v in frame[column]]


def _measured_points(frame: pd.DataFrame, x: str, y: str, label: str | None):
    """The rows with finite ``x`` and ``y``: ``(frame, xs, ys, labels, finite)``, where ``finite`` is
    the mask of the kept rows among the given ones. Raises ValueError naming a missing column, or
    when no row is finite in both."""
    _check_columns(frame, {"x": x, "y": y, "label": label})
    xs, ys = _numeric(frame, x), _numeric(frame, y)
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        raise ValueError(f"no row has finite values in both {x!r} and {y!r} ({len(frame)} rows)")
    frame, xs, ys = frame[finite], xs[finite], ys[finite]
    return frame, xs, ys, _text_labels(frame, label, len(frame)), finite


def _axis_titles(x: str, y: str, percent_y: bool | None) -> tuple[str, float, str, float]:
    """``(x title, x factor, y title, y factor)`` from :func:`axis_unit`, with ``percent_y`` (when
    given) overriding whether y is shown in percent."""
    x_title, x_scale = axis_unit(x)
    y_title, y_scale = axis_unit(y)
    if percent_y is not None and (percent_y != (y_scale == 100.0)):
        if percent_y:
            y_title, y_scale = f"{y_title} (%)", y_scale * 100
        else:
            y_title, y_scale = y_title.replace(" (%)", " (fraction)"), y_scale / 100
    return x_title, x_scale, y_title, y_scale


def _reference_points(reference: pd.DataFrame, rx_col: str, ry_col: str, label: str | None) -> dict | None:
    """The reference rows with finite coordinates, scaled for drawing, as a dict of ``x``, ``y``,
    ``x_title``, ``y_title`` and ``labels``; None when no row is finite. Raises ValueError naming
    a missing column."""
    ref_label_col = label if label is not None and label in reference.columns else None
    _check_columns(reference, {"reference x": rx_col, "reference y": ry_col}, "reference frame")
    rx, ry = _numeric(reference, rx_col), _numeric(reference, ry_col)
    keep = np.isfinite(rx) & np.isfinite(ry)
    if not keep.any():
        return None
    rx_title, rx_scale = axis_unit(rx_col)
    ry_title, ry_scale = axis_unit(ry_col)
    labels = _text_labels(reference[keep], ref_label_col, int(keep.sum()))
    return {"x": rx[keep] * rx_scale, "y": ry[keep] * ry_scale, "x_title": rx_title, "y_title": ry_title,
            "labels": labels}


def _default_logx(px: np.ndarray, ref: dict | None) -> bool:
    """A log x axis when every drawn x (measured and reference) is positive and they span more than 30x."""
    all_x = np.concatenate([px, ref["x"]]) if ref is not None else px
    return bool(all_x.min() > 0 and all_x.max() / all_x.min() > 30)


def _wrap_notes(notes: str) -> str:
    """``notes`` wrapped at 140 characters a line ("" for none)."""
    return "\n".join(textwrap.fill(line, 140) for line in notes.splitlines()) if notes else ""


def _has_latency_iqr(frame: pd.DataFrame, x: str) -> bool:
    """Whether x is the median latency and the frame has a finite ``latency_ms_iqr`` beside it."""
    return x == "latency_ms_median" and "latency_ms_iqr" in frame.columns and bool(np.isfinite(
        _numeric(frame, "latency_ms_iqr")).any())


def _has_interval(frame: pd.DataFrame, y: str) -> bool:
    """Whether the frame has a finite lower bound ``<y>_ci_low`` of y's interval over seeds."""
    return f"{y}_ci_low" in frame.columns and bool(np.isfinite(_numeric(frame, f"{y}_ci_low")).any())


def _footer_inches(legend_entries: int, wrapped: str) -> float:
    """Height (inches) under the x title for the legend (one row of three entries, or two rows) and the notes."""
    note_lines = wrapped.count("\n") + 1 if wrapped else 0
    legend_rows = 1 if legend_entries <= 3 else 2
    return 0.1 + 0.22 * legend_rows + 0.13 * note_lines + (0.08 if wrapped else 0)


def _new_figure(footer: float, right_axis: bool, logx: bool):
    """An 8.4-inch-wide figure and its axes, with ``footer`` inches under the x title, room for a
    right-hand axis when asked, log x when asked and a light major grid behind the points; returns
    ``(fig, ax, width, height)``, in inches."""
    import matplotlib.pyplot as plt

    height, width = 5.0 + footer, 8.4
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=0.8 / width, right=1 - (0.85 if right_axis else 0.3) / width,
                        top=1 - 0.4 / height, bottom=(footer + 0.55) / height)
    if logx:
        ax.set_xscale("log")
    ax.grid(True, which="major", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax, width, height


def _draw_error_bars(ax, frame: pd.DataFrame, y: str, px, py, y_scale: float, y_title: str, has_iqr: bool) -> None:
    """Whiskers: y's interval over seeds (vertical, when the frame has ``<y>_ci_low/high``) and the
    latency IQR (horizontal, centred on the median, when ``has_iqr``)."""
    if f"{y}_ci_low" in frame.columns and f"{y}_ci_high" in frame.columns:
        low, high = _numeric(frame, f"{y}_ci_low") * y_scale, _numeric(frame, f"{y}_ci_high") * y_scale
        if np.isfinite(low).any():
            below, above = np.nan_to_num(py - low), np.nan_to_num(high - py)
            ax.errorbar(px, py, yerr=np.vstack([below, above]), fmt="none", ecolor="0.55", elinewidth=1, capsize=3,
                        zorder=1, label=f"{y_title}: 95% interval over seeds")
    if has_iqr:
        iqr = np.nan_to_num(_numeric(frame, "latency_ms_iqr"))
        ax.errorbar(px, py, xerr=iqr / 2, fmt="none", ecolor="0.75", elinewidth=1, capsize=2, zorder=1,
                    label="latency IQR (centred on the median)")


def _draw_front(ax, px, py, mask: np.ndarray, minimize_x: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """The front as a staircase over its points (blue) and the dominated points (grey); returns the
    front's points in x order and the staircase's ``where``."""
    order = np.argsort(px[mask], kind="stable")
    fx, fy = px[mask][order], py[mask][order]
    step = "post" if minimize_x else "pre"      # the point that wins an x interval sets its height
    ax.step(fx, fy, where=step, color=FRONT_COLOUR, linewidth=1.6, alpha=0.85, zorder=2,
            label=f"Pareto front ({int(mask.sum())} of {len(px)})")
    if (~mask).any():
        ax.scatter(px[~mask], py[~mask], s=36, facecolor="#d4d4d4", edgecolor=DOMINATED_COLOUR, linewidth=0.8,
                   zorder=3, label="dominated")
    ax.scatter(fx, fy, s=58, facecolor=FRONT_COLOUR, edgecolor="white", linewidth=1.0, zorder=4,
               label="non-dominated (measured)")
    return fx, fy, step


def _draw_titles(ax, x_title: str, y_title: str, minimize_x: bool, maximize_y: bool, title: str) -> None:
    """Axis titles, the "better" arrows in the top right corner and the plot's title."""
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    better = f"better: {'←' if minimize_x else '→'} {'↑' if maximize_y else '↓'}"
    ax.text(0.995, 1.01, better, transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.4")
    if title:
        ax.set_title(title, fontsize=11, loc="left")


def _point_texts(ax, px, py, mask: np.ndarray, labels: list) -> list:
    """The labels to place, as ``(axes, xy, text, style)``: the front's in x order, then (with at
    most :data:`MAX_LABELLED` points) the dominated ones'."""
    texts = []
    for i in np.flatnonzero(mask)[np.argsort(px[mask], kind="stable")]:
        if labels[i]:
            texts.append((ax, (px[i], py[i]), labels[i], "front"))
    if len(px) <= MAX_LABELLED:
        for i in np.flatnonzero(~mask):
            if labels[i]:
                texts.append((ax, (px[i], py[i]), labels[i], "dominated"))
    return texts


def _draw_reference(ax, ref: dict, x_title: str, y_title: str, reference_label: str, reference_twin_y: str | None,
                    texts: list):
    """The reference points as hollow stars, on a right-hand twin axis titled ``reference_twin_y``
    when given; their labels are appended to ``texts``. Returns ``(axes, legend handle, legend text)``;
    the legend text names the reference's axes when they differ from the measured ones."""
    same = ref["x_title"] == x_title and (ref["y_title"] == y_title or reference_twin_y)
    legend = reference_label if same else f"{reference_label} (x: {ref['x_title']}" + (
        ")" if reference_twin_y else f", y: {ref['y_title']})")
    ref_ax = ax
    if reference_twin_y:
        ref_ax = ax.twinx()
        ref_ax.set_ylabel(reference_twin_y, color=REFERENCE_COLOUR)
        ref_ax.tick_params(axis="y", colors=REFERENCE_COLOUR)
        ref_ax.spines["right"].set_color(REFERENCE_COLOUR)
    handle = ref_ax.scatter(ref["x"], ref["y"], marker="*", s=150, facecolor="none", edgecolor=REFERENCE_COLOUR,
                            linewidth=1.2, zorder=5, label=legend)
    for xy, text in zip(zip(ref["x"], ref["y"]), ref["labels"]):
        if text:
            texts.append((ref_ax, xy, text, "reference"))
    return ref_ax, handle, legend


def _set_limits(ax, ref_ax, ref: dict | None, frame: pd.DataFrame, y: str, px, py, y_scale: float, has_ci: bool,
                logx: bool) -> None:
    """Axis limits with room for labels: one x range for measured and reference points; the
    reference's y on its twin axis, or with the measured y; y's whole interval over seeds in view."""
    all_x = px if ref is None else np.concatenate([px, ref["x"]])       # one x axis for both
    y_extent = py if ref_ax is not ax or ref is None else np.concatenate([py, ref["y"]])
    if has_ci:   # the whole interval in view, not only the means
        bounds = np.concatenate([_numeric(frame, f"{y}_ci_low"), _numeric(frame, f"{y}_ci_high")]) * y_scale
        y_extent = np.concatenate([y_extent, bounds[np.isfinite(bounds)]])
    _pad_limits(ax, all_x, y_extent, logx=logx)
    if ref_ax is not ax:
        _pad_limits(ref_ax, None, ref["y"], logx=False)


def _draw_legend_and_notes(fig, handles: list, names: list, wrapped: str, footer: float, width: float,
                           height: float) -> None:
    """The legend centred in the footer (three entries a row) and the wrapped notes small under it."""
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, footer / height), ncol=3, fontsize=8,
               frameon=False, columnspacing=2.0)
    if wrapped:
        fig.text(0.8 / width, 0.06 / height, wrapped, ha="left", va="bottom", fontsize=7, color="0.3")


def _pad_limits(ax, xs, ys, *, logx: bool, pad: float = 0.08) -> None:
    """Room around the points for their labels."""
    def span(v, log):
        lo, hi = float(np.min(v)), float(np.max(v))
        if log:
            lo, hi = np.log10(lo), np.log10(hi)
        width = (hi - lo) or (abs(hi) * 0.1 or 1.0)
        lo, hi = lo - pad * width, hi + pad * width
        return (10 ** lo, 10 ** hi) if log else (lo, hi)

    if xs is not None:
        ax.set_xlim(*span(xs, logx))
    if ys is not None:
        ax.set_ylim(*span(ys, False))


# offsets (points) tried for a label, nearest first: right, above, left, below, then diagonals and farther
_OFFSETS = [(7, 0), (0, 8), (-7, 0), (0, -9), (6, 7), (-6, 7), (6, -8), (-6, -8)]
_OFFSETS = _OFFSETS + [(2.4 * dx, 2.4 * dy) for dx, dy in _OFFSETS] + [(4 * dx, 4 * dy) for dx, dy in _OFFSETS]


def _staircase(x, y, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The corner points of ``ax.step(x, y, where=where)``."""
    if len(x) < 2:
        return np.asarray(x), np.asarray(y)
    if where == "post":
        sx, sy = np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]
    else:
        sx, sy = np.repeat(x, 2)[:-1], np.repeat(y, 2)[1:]
    return sx, sy


def _place_labels(fig, ax, texts, points, lines) -> list[tuple[str, str]]:
    """Greedy label placement in display space: each label takes the first offset whose box overlaps
    no placed label, marker or front line and stays inside ``ax``; failing that the least-overlapping
    one, joined to its point by a thin leader line when it sits far off."""
    import matplotlib.patheffects as effects

    halo = [effects.withStroke(linewidth=2.5, foreground="white")]
    styles = {"front": dict(color="#12385f", fontsize=8, fontweight="bold"),
              "dominated": dict(color="0.4", fontsize=7),
              "reference": dict(color=REFERENCE_COLOUR, fontsize=7.5, fontstyle="italic")}
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    inside = (inside.x0, inside.y0, inside.x1, inside.y1)
    obstacles = []                                   # (box, weight)
    for axes, xs, ys in points:
        for cx, cy in axes.transData.transform(np.column_stack([xs, ys])):
            obstacles.append(((cx - 5, cy - 5, cx + 5, cy + 5), 0.6))
    for axes, xs, ys in lines:
        corners = axes.transData.transform(np.column_stack([xs, ys]))
        for (x0, y0), (x1, y1) in zip(corners[:-1], corners[1:]):
            n = max(int(np.hypot(x1 - x0, y1 - y0) / 3), 1)
            for t in np.linspace(0, 1, n + 1):
                cx, cy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                obstacles.append(((cx - 1.5, cy - 1.5, cx + 1.5, cy + 1.5), 1.0))
    placed = []
    for axes, xy, text, style in texts:
        best = None
        for k, (dx, dy) in enumerate(_OFFSETS):
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
            artist = axes.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                   **styles[style])
            bb = artist.get_window_extent(renderer)
            artist.remove()
            box = (bb.x0 - 1, bb.y0 - 1, bb.x1 + 1, bb.y1 + 1)
            area = (box[2] - box[0]) * (box[3] - box[1])
            cost = sum(w * _overlap(box, other) for other, w in obstacles)
            cost += 3 * (area - _overlap(box, inside)) + 0.02 * k * area
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, box)
            if cost <= 0.02 * k * area:              # free spot: the nearest one wins
                break
        _, dx, dy, ha, va, box = best
        far = abs(dx) > 10 or abs(dy) > 10
        axes.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, zorder=6,
                      path_effects=halo, **styles[style],
                      arrowprops=dict(arrowstyle="-", color="0.6", lw=0.6, shrinkA=0, shrinkB=4) if far else None)
        obstacles.append((box, 4.0))
        placed.append((text, style))
    return placed


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def pareto_plot(frame: pd.DataFrame, x: str, y: str, path, *, label: str | None = "variant",
                minimize_x: bool = True, maximize_y: bool = True, reference: pd.DataFrame | None = None,
                reference_label: str = "published", reference_twin_y: str | None = None,
                reference_x: str | None = None, reference_y: str | None = None, title: str = "",
                notes: str = "", logx: bool | None = None, percent_y: bool | None = None) -> Path:
    """Save a speed-accuracy (or any two-metric) frontier plot of ``frame`` to ``path`` (PNG); return the path.

    Every row is a circle; the Pareto front (:func:`pareto_mask` under ``minimize_x`` /
    ``maximize_y``) is joined by a staircase and its points are labelled from the ``label``
    column; dominated points are grey (and labelled too when there are at most 25 points).
    ``reference`` rows (e.g. published paper figures; columns ``reference_x`` / ``reference_y``,
    default ``x`` / ``y``, and the label column) are hollow stars; with ``reference_twin_y``
    (the axis title) their y goes on a right-hand axis, as it is on another scale. Axis titles
    carry the unit from :func:`axis_unit`; ``notes`` is printed small under the plot. ``logx``
    defaults to a log axis when x spans more than 30x; ``percent_y`` overrides the % scaling.
    Raises ValueError naming a missing column (and listing the available ones) or when no row
    has finite x and y.
    """
    import matplotlib.pyplot as plt

    fig = pareto_figure(frame, x, y, label=label, minimize_x=minimize_x, maximize_y=maximize_y,
                        reference=reference, reference_label=reference_label, reference_twin_y=reference_twin_y,
                        reference_x=reference_x, reference_y=reference_y, title=title, notes=notes, logx=logx,
                        percent_y=percent_y)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
