"""Altair charts the book uses. They are rendered to static SVG (vl-convert), so the book works offline.

Every function takes plain arrays or DataFrames and returns an ``alt.Chart``/``LayerChart``.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

alt.data_transformers.disable_max_rows()


def use_static_rendering() -> None:
    """Render charts as inline SVG (no JavaScript, no network)."""
    alt.renderers.enable("svg")


def phenomenon_order(paradigms: list[str], phenomena: list[str]) -> list[int]:
    """Indices that sort paradigms by phenomenon, then name: the book's axis order."""
    return sorted(range(len(paradigms)), key=lambda i: (phenomena[i], paradigms[i]))


def matrix_heatmap(matrix: np.ndarray, paradigms: list[str], phenomena: list[str], title: str,
                   value: str = "value", diverging: bool = True, size: int = 420,
                   domain: tuple[float, float] | None = None) -> alt.LayerChart:
    """A paradigm-by-paradigm heatmap ordered by phenomenon, with the hypothesis-space blocks outlined.

    Rows are sources (fine-tuned on), columns are targets (evaluated on).
    """
    order = phenomenon_order(paradigms, phenomena)
    n = len(order)
    cells = pd.DataFrame([
        {"row": r, "col": c, "source": paradigms[i], "target": paradigms[j], value: float(matrix[i, j])}
        for r, i in enumerate(order) for c, j in enumerate(order)
    ])
    if domain is None:
        bound = float(np.nanpercentile(np.abs(matrix[~np.eye(len(matrix), dtype=bool)]), 98)) or 1.0
        domain = (-bound, bound) if diverging else (float(np.nanmin(matrix)), float(np.nanmax(matrix)))
    scale = alt.Scale(scheme="redblue", domain=list(domain), reverse=True, clamp=True) if diverging \
        else alt.Scale(scheme="viridis", domain=list(domain), clamp=True)
    axis = alt.Axis(labels=False, ticks=False, grid=False, title=None, domain=False)
    x_scale = alt.Scale(domain=[0, n], nice=False, zero=False)
    y_scale = alt.Scale(domain=[n, 0], nice=False, zero=False)  # row 0 at the top
    heat = alt.Chart(cells).mark_rect().encode(
        x=alt.X("col:Q", scale=x_scale, axis=axis),
        x2="col_end:Q",
        y=alt.Y("row:Q", scale=y_scale, axis=axis),
        y2="row_end:Q",
        color=alt.Color(f"{value}:Q", scale=scale, title=value),
        tooltip=["source", "target", alt.Tooltip(f"{value}:Q", format=".3f")],
    ).transform_calculate(col_end="datum.col + 1", row_end="datum.row + 1")

    blocks, start = [], 0
    sorted_phen = [phenomena[i] for i in order]
    for k in range(1, n + 1):
        if k == n or sorted_phen[k] != sorted_phen[start]:
            blocks.append({"phenomenon": sorted_phen[start], "start": start, "end": k, "mid": (start + k) / 2})
            start = k
    block_frame = pd.DataFrame(blocks)
    outline = alt.Chart(block_frame).mark_rect(fill=None, stroke="black", strokeWidth=1.2).encode(
        x=alt.X("start:Q", scale=x_scale, axis=axis), x2="end:Q",
        y=alt.Y("start:Q", scale=y_scale, axis=axis), y2="end:Q")
    labels = alt.Chart(block_frame).mark_text(align="right", baseline="middle", dx=-4, fontSize=9).encode(
        x=alt.datum(0), y=alt.Y("mid:Q", scale=y_scale, axis=axis), text="phenomenon:N")
    return alt.layer(heat, outline, labels).properties(width=size, height=size, title=title)


def grouped_bars(frame: pd.DataFrame, category: str, value: str, group: str, title: str,
                 error_low: str | None = None, error_high: str | None = None, width: int = 520) -> alt.Chart:
    """Bars of ``value`` per ``category``, one colour per ``group`` (e.g. phenomenon x model size)."""
    base = alt.Chart(frame).encode(
        x=alt.X(f"{category}:N", title=category, axis=alt.Axis(labelAngle=-45)),
        xOffset=alt.XOffset(f"{group}:N"),
        color=alt.Color(f"{group}:N", title=group),
    )
    chart = base.mark_bar().encode(y=alt.Y(f"{value}:Q", title=value),
                                   tooltip=[category, group, alt.Tooltip(f"{value}:Q", format=".3f")])
    if error_low and error_high:
        chart = chart + base.mark_rule(color="black").encode(y=f"{error_low}:Q", y2=f"{error_high}:Q")
    return chart.properties(width=width, height=260, title=title)


def lines(frame: pd.DataFrame, x: str, y: str, group: str | None, title: str, x_title: str | None = None,
          y_title: str | None = None, width: int = 460, rule: float | None = None,
          error_low: str | None = None, error_high: str | None = None) -> alt.LayerChart:
    """Lines with points of ``y`` against ``x``, one per ``group``; optional horizontal reference
    line, and optional vertical bars from ``error_low`` to ``error_high`` (e.g. the replicate range)."""
    encoding = {"x": alt.X(f"{x}:Q", title=x_title or x), "y": alt.Y(f"{y}:Q", title=y_title or y,
                                                                     scale=alt.Scale(zero=False))}
    if group:
        encoding["color"] = alt.Color(f"{group}:N", title=group)
    chart = alt.Chart(frame).mark_line(point=True).encode(**encoding)
    layers = [chart]
    if error_low and error_high:
        bars = {k: v for k, v in encoding.items() if k != "y"}
        layers.append(alt.Chart(frame).mark_rule().encode(**bars, y=f"{error_low}:Q", y2=f"{error_high}:Q"))
    if rule is not None:
        layers.append(alt.Chart(pd.DataFrame({"y": [rule]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q"))
    return alt.layer(*layers).properties(width=width, height=260, title=title)
