"""Where the compute and the time go: per-node MACs and latency of several variants, as stacked bars.

The input is ``archlab.profile(..., breakdown=True).per_node``: one row per spec node
(index ``node``, in execution order) with ``params``, the MAC counters (``macs_fvcore``,
``macs_thop``, ``macs_ptflops``, ``macs_reconciled``, ...) and, when latency was measured,
``latency_share`` (the node's share of hook-timed node time) and ``latency_ms`` (that share times
the end-to-end median).
Comparing where MACs and milliseconds go is the per-layer analysis of e.g. Ma et al.,
"ShuffleNet V2", ECCV 2018, Fig. 2 (FLOPs are not latency: memory-bound layers cost time with
few MACs).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

OTHER = "other"
THRESHOLD = 0.03            # a node below this share of its variant's total everywhere goes into "other"


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-node table indexed by node id (a ``node`` column, as after a CSV round trip, is accepted)."""
    if "node" in frame.columns:
        frame = frame.set_index("node")
    frame = frame.copy()
    frame.index = frame.index.astype(str)
    return frame


def node_order(values: dict[str, pd.Series]) -> list[str]:
    """Every node id in order of first appearance (execution order of the first variant that has it)."""
    order: dict[str, None] = {}
    for series in values.values():
        order.update(dict.fromkeys(map(str, series.index)))
    return list(order)


def small_nodes(values: dict[str, pd.Series], threshold: float = THRESHOLD) -> set[str]:
    """Nodes whose share of their variant's total is below ``threshold`` in every variant that has them."""
    large = set()
    for series in values.values():
        total = float(series.sum())
        if total > 0:
            large.update(str(n) for n, v in series.items() if v / total >= threshold)
    return set(node_order(values)) - large


def group_other(values: dict[str, pd.Series], small: set[str]) -> dict[str, pd.Series]:
    """Each variant's values with the ``small`` nodes summed into one ``"other"`` entry (last; only if any)."""
    grouped = {}
    for name, series in values.items():
        series = series.copy()
        series.index = series.index.astype(str)
        keep = series[[n not in small for n in series.index]]
        rest = series[[n in small for n in series.index]]
        if len(rest):
            keep = pd.concat([keep, pd.Series({OTHER: float(rest.sum())})])
        grouped[name] = keep
    return grouped


def node_colours(nodes: list[str]) -> dict[str, tuple]:
    """One colour per node id, stable across variants and panels; ``"other"`` is grey."""
    from matplotlib import colormaps

    tab20, tab20b, tab20c = (list(colormaps[m].colors) for m in ("tab20", "tab20b", "tab20c"))
    palette = tab20[0::2] + tab20b[0::4] + tab20c[0::4] + tab20b[2::4] + tab20c[2::4] + tab20[1::2]
    palette = [c for c in palette if max(c) - min(c) > 0.1]     # greys are kept for "other"
    colours, i = {}, 0
    for node in nodes:
        if node == OTHER:
            colours[node] = (0.72, 0.72, 0.72, 1.0)
        else:
            colours[node] = palette[i % len(palette)]
            i += 1
    return colours


def breakdown_plot(per_node: dict[str, pd.DataFrame], path, *, title: str = "", notes: str = "",
                   macs: str = "macs_fvcore", threshold: float = THRESHOLD) -> Path:
    """Save per-node MACs and latency of each variant as two panels of stacked horizontal bars (PNG).

    ``per_node`` maps a variant name to its ``archlab.profile(..., breakdown=True).per_node`` table.
    Left: GMACs per node from the ``macs`` counter (``macs_fvcore`` by default, the counter of the
    records' ``macs_fvcore``; ``macs_reconciled`` is the other sensible choice, ``macs_ptflops`` the
    published tables' counter). Right: ms per node (``latency_ms``, i.e. latency share x
    end-to-end median), drawn when any variant has it;
    otherwise the panel is left out and the notes say so. A node id keeps its colour across
    variants and panels; nodes under ``threshold`` of their variant's total in every variant and
    on both measures are summed into "other". Returns the path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if not per_node:
        raise ValueError("breakdown_plot needs at least one variant's per-node table")
    tables = {str(name): _table(frame) for name, frame in per_node.items()}
    for name, table in tables.items():
        if macs not in table.columns:
            raise ValueError(f"variant {name!r}: per-node table has no {macs!r} column; available columns: "
                             f"{', '.join(map(str, table.columns))}")
    panels = {"macs": {n: pd.to_numeric(t[macs], errors="coerce").fillna(0) * 1e-9 for n, t in tables.items()}}
    timed = {n: pd.to_numeric(t["latency_ms"], errors="coerce").fillna(0) for n, t in tables.items()
             if "latency_ms" in t.columns}
    if timed:
        panels["latency"] = timed
    small = set.intersection(*(small_nodes(values, threshold) for values in panels.values()))
    grouped = {key: group_other(values, small) for key, values in panels.items()}
    nodes = node_order({**{f"m:{k}": v for k, v in grouped["macs"].items()},
                        **{f"l:{k}": v for k, v in grouped.get("latency", {}).items()}})
    nodes = [n for n in nodes if n != OTHER] + ([OTHER] if OTHER in nodes else [])
    colours = node_colours(nodes)

    variants = list(tables)
    counter = macs.removeprefix("macs_")
    titles = {"macs": f"GMACs per node ({counter})", "latency": "latency per node (ms)"}
    auto_notes = []
    if timed:
        auto_notes.append("latency per node = the node's share of hook-timed node time x the end-to-end median "
                          "latency")
        missing = [v for v in variants if v not in timed]
        if missing:
            auto_notes.append(f"no latency measured for {', '.join(missing)}")
    else:
        auto_notes.append("latency panel omitted: the per-node tables have no latency columns "
                          "(profiled with latency=False)")
    if small:
        auto_notes.append(f'"{OTHER}" = nodes under {threshold:.0%} of their variant\'s total in every variant '
                          f"({', '.join(n for n in node_order(panels['macs']) if n in small)})")
    text = "\n".join(textwrap.fill(line, 150) for line in [*filter(None, notes.splitlines()), *auto_notes])

    n_panels = len(grouped)
    bar_height = 0.42
    plot_h = max(1.6, 0.2 + bar_height * 1.45 * len(variants) + 0.9)
    legend_cols = 1 if len(nodes) <= 24 else 2
    legend_w = (0.75 + 0.065 * max(len(n) for n in nodes)) * legend_cols + 0.4
    plot_h = max(plot_h, 0.19 * (len(nodes) / legend_cols + 2) - 0.3)
    note_h = 0.14 * (text.count("\n") + 1) + 0.15
    width, height = 5.0 * n_panels + legend_w + 0.9, plot_h + note_h + 0.3 + (0.3 if title else 0)
    fig, axes = plt.subplots(1, n_panels, figsize=(width, height), squeeze=False, sharey=True)
    axes = axes[0]
    left_in = min(3.2, 0.3 + 0.1 * max(len(v) for v in variants))       # room for the variant names
    top_in = 0.35 + (0.3 if title else 0)
    fig.subplots_adjust(left=left_in / width, right=1 - legend_w / width, bottom=(note_h + 0.5) / height,
                        top=1 - top_in / height, wspace=0.08)
    ypos = np.arange(len(variants))
    segments = []
    for ax, (key, values) in zip(axes, grouped.items()):
        totals = []
        for row, variant in enumerate(variants):
            series = values.get(variant)
            if series is None:
                ax.text(0, row, "  not measured", va="center", fontsize=8, color="0.45", fontstyle="italic")
                totals.append(np.nan)
                continue
            start = 0.0
            for node, value in series.items():          # the variant's own execution order, "other" last
                if not value > 0:
                    continue
                ax.barh(row, value, left=start, height=bar_height * 1.45, color=colours[node],
                        edgecolor="white", linewidth=0.6)
                segments.append((ax, start, value, row, node))
                start += value
            totals.append(start)
        top = np.nanmax(totals) if np.isfinite(totals).any() else 1.0
        for row, total in enumerate(totals):
            if np.isfinite(total):
                ax.text(total + top * 0.01, row, f"{total:.3g}", va="center", fontsize=8, color="0.25")
        ax.set_xlim(0, top * 1.12)
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel("GMACs" if key == "macs" else "ms")
        ax.grid(True, axis="x", color="0.9")
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0].set_yticks(ypos, variants)
    axes[0].invert_yaxis()
    _label_segments(fig, segments, colours)
    handles = [Patch(facecolor=colours[n], edgecolor="white", label=n) for n in nodes]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1 - (legend_w - 0.15) / width, 1 - top_in / height),
               fontsize=8, frameon=False, title="node", title_fontsize=8, ncol=legend_cols)
    if title:
        fig.suptitle(title, x=0.01, y=1 - 0.08 / height, ha="left", va="top", fontsize=11)
    fig.text(0.01, 0.1 / height, text, ha="left", va="bottom", fontsize=7, color="0.3")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _label_segments(fig, segments, colours) -> None:
    """Write the node id inside each bar segment wide enough to hold it."""
    renderer = fig.canvas.get_renderer()
    for ax, start, value, row, node in segments:
        r, g, b = colours[node][:3]
        ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"
        text = ax.text(start + value / 2, row, node, ha="center", va="center", fontsize=6.5, color=ink, clip_on=True)
        x0, x1 = ax.transData.transform([(start, row), (start + value, row)])[:, 0]
        if text.get_window_extent(renderer).width > (x1 - x0) - 3:
            text.remove()
