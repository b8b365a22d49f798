"""Altair charts the book uses.

In the book they are interactive and offline (`use_book_rendering`, `interactive.py`): hover
tooltips on every cell, bar and point, and a phenomenon selector on the heatmaps. Their outputs
also carry a static SVG (vl-convert), which the slides and PDF builds use.

Every function takes plain arrays or DataFrames and returns an ``alt.Chart``/``LayerChart``.
"""

from __future__ import annotations

import hashlib

import altair as alt
import numpy as np
import pandas as pd

from . import interactive

alt.data_transformers.disable_max_rows()
RENDERER = "taskspace"
alt.renderers.register(RENDERER, interactive.renderer)


def use_book_rendering() -> None:
    """Charts as Vega-Lite specs that the book draws interactively (offline), plus a static SVG."""
    alt.renderers.enable(RENDERER)


def use_static_rendering() -> None:
    """Charts as inline SVG only (no JavaScript, no network): the slides."""
    alt.renderers.enable("svg")


def phenomenon_order(paradigms: list[str], phenomena: list[str]) -> list[int]:
    """Indices that sort paradigms by phenomenon, then name: the book's axis order."""
    return sorted(range(len(paradigms)), key=lambda i: (phenomena[i], paradigms[i]))


def _rounded(values: np.ndarray) -> list:
    """Matrix entries for a spec: 5 decimals (the tooltips show 3), NaN as null."""
    return [None if not np.isfinite(v) else round(float(v), 5) for v in values]


def colour_domain(matrix: np.ndarray, diverging: bool = True) -> tuple[float, float]:
    """A heatmap's colour range: symmetric at the 98th percentile of |off-diagonal| (diverging, so
    a few large self-transfers do not wash the rest out), else the matrix's own range."""
    if not diverging:
        return float(np.nanmin(matrix)), float(np.nanmax(matrix))
    bound = float(np.nanpercentile(np.abs(matrix[~np.eye(len(matrix), dtype=bool)]), 98)) or 1.0
    return -bound, bound


def matrix_heatmap(matrix: np.ndarray, paradigms: list[str], phenomena: list[str], title: str,
                   value: str = "value", diverging: bool = True, size: int = 420,
                   domain: tuple[float, float] | None = None,
                   ci: tuple[np.ndarray, np.ndarray] | None = None) -> alt.LayerChart:
    """A paradigm-by-paradigm heatmap ordered by phenomenon, with the hypothesis-space blocks outlined.

    Rows are sources (fine-tuned on), columns are targets (evaluated on). Hovering a cell shows
    its source, target, value and, with ``ci`` (low and high matrices), its interval; the
    "highlight" menu fades every cell outside a phenomenon's rows and columns.
    """
    order = phenomenon_order(paradigms, phenomena)
    n = len(order)
    names = [paradigms[i] for i in order]
    sorted_phen = [phenomena[i] for i in order]
    # The cells travel as one row of arrays in row-major order (value, interval), flattened in the
    # browser; names are looked up in two arrays of the spec. A 67 x 67 heatmap stays ~100 kB.
    sources, targets = np.meshgrid(order, order, indexing="ij")
    cells = {value: _rounded(matrix[sources, targets].ravel())}
    tooltip = [alt.Tooltip("source:N", title="source (fine-tuned)"), alt.Tooltip("target:N", title="target (evaluated)"),
               alt.Tooltip(f"{value}:Q", format=".3f")]
    if ci is not None:
        cells["ci_low"] = _rounded(ci[0][sources, targets].ravel())
        cells["ci_high"] = _rounded(ci[1][sources, targets].ravel())
        tooltip += [alt.Tooltip("ci_low:Q", format=".3f", title="95% CI low"),
                    alt.Tooltip("ci_high:Q", format=".3f", title="95% CI high")]
    if domain is None:
        domain = colour_domain(matrix, diverging)
    scale = alt.Scale(scheme="redblue", domain=list(domain), reverse=True, clamp=True) if diverging \
        else alt.Scale(scheme="viridis", domain=list(domain), clamp=True)
    axis = alt.Axis(labels=False, ticks=False, grid=False, title=None, domain=False)
    x_scale = alt.Scale(domain=[0, n], nice=False, zero=False)
    y_scale = alt.Scale(domain=[n, 0], nice=False, zero=False)  # row 0 at the top

    # a parameter name of its own per chart, so that two heatmaps side by side do not clash
    key = hashlib.sha1(f"{title}|{value}|{size}".encode()).hexdigest()[:8]
    names_param, phen_param = f"names_{key}", f"phenomena_{key}"
    highlight = alt.param(name=f"highlight_{key}", value="all",
                          bind=alt.binding_select(options=["all", *sorted(set(phenomena))],
                                                 name=f"highlight phenomenon in {title}: "))  # which chart, when several
    inside = (f"{highlight.name} == 'all' || datum.source_phenomenon == {highlight.name}"
              f" || datum.target_phenomenon == {highlight.name}")
    heat = alt.Chart(alt.Data(values=[cells])).mark_rect().encode(
        x=alt.X("col:Q", scale=x_scale, axis=axis),
        x2="col_end:Q",
        y=alt.Y("row:Q", scale=y_scale, axis=axis),
        y2="row_end:Q",
        color=alt.Color(f"{value}:Q", scale=scale, title=value),
        opacity=alt.condition(inside, alt.value(1.0), alt.value(0.15)),
        tooltip=tooltip,
    ).transform_flatten(list(cells)).transform_window(cell="row_number()").transform_calculate(
        row=f"floor((datum.cell - 1) / {n})", col=f"(datum.cell - 1) % {n}",
    ).transform_calculate(
        col_end="datum.col + 1", row_end="datum.row + 1",
        source=f"{names_param}[datum.row]", target=f"{names_param}[datum.col]",
        source_phenomenon=f"{phen_param}[datum.row]", target_phenomenon=f"{phen_param}[datum.col]",
    ).add_params(highlight, alt.param(name=names_param, value=names), alt.param(name=phen_param, value=sorted_phen))

    blocks, start = [], 0
    for k in range(1, n + 1):
        if k == n or sorted_phen[k] != sorted_phen[start]:
            blocks.append({"phenomenon": sorted_phen[start], "start": start, "end": k, "mid": (start + k) / 2})
            start = k
    block_frame = pd.DataFrame(blocks)
    outline = alt.Chart(block_frame).mark_rect(fill=None, stroke="black", strokeWidth=1.2).encode(
        x=alt.X("start:Q", scale=x_scale, axis=axis), x2="end:Q",
        y=alt.Y("start:Q", scale=y_scale, axis=axis), y2="end:Q")
    # phenomena name the blocks on both axes: rows (sources) at the left, columns (targets) below,
    # turned to read upwards so that narrow blocks keep their names apart
    row_labels = alt.Chart(block_frame).mark_text(align="right", baseline="middle", dx=-4, fontSize=9).encode(
        x=alt.datum(0), y=alt.Y("mid:Q", scale=y_scale, axis=axis), text="phenomenon:N")
    column_labels = alt.Chart(block_frame).mark_text(align="right", baseline="middle", angle=270, dy=4,
                                                     fontSize=9).encode(
        x=alt.X("mid:Q", scale=x_scale, axis=axis), y=alt.datum(n), text="phenomenon:N")
    return alt.layer(heat, outline, row_labels, column_labels).properties(width=size, height=size, title=title)


def grouped_bars(frame: pd.DataFrame, category: str, value: str, group: str, title: str,
                 error_low: str | None = None, error_high: str | None = None, width: int = 520) -> alt.Chart:
    """Bars of ``value`` per ``category``, one colour per ``group`` (e.g. phenomenon x model size)."""
    base = alt.Chart(frame).encode(
        x=alt.X(f"{category}:N", title=category, axis=alt.Axis(labelAngle=-45)),
        xOffset=alt.XOffset(f"{group}:N"),
        color=alt.Color(f"{group}:N", title=group),
    )
    tooltip = [category, group, alt.Tooltip(f"{value}:Q", format=".3f")]
    if error_low and error_high:
        tooltip += [alt.Tooltip(f"{error_low}:Q", format=".3f"), alt.Tooltip(f"{error_high}:Q", format=".3f")]
    chart = base.mark_bar().encode(y=alt.Y(f"{value}:Q", title=value), tooltip=tooltip)
    if error_low and error_high:
        chart = chart + base.mark_rule(color="black").encode(y=f"{error_low}:Q", y2=f"{error_high}:Q")
    return chart.properties(width=width, height=260, title=title)


def lines(frame: pd.DataFrame, x: str, y: str, group: str | None, title: str, x_title: str | None = None,
          y_title: str | None = None, width: int = 460, rule: float | None = None,
          error_low: str | None = None, error_high: str | None = None, dash: str | None = None) -> alt.LayerChart:
    """Lines with points of ``y`` against ``x``, one per ``group`` (and per ``dash``, a second grouping
    drawn as the line's dash pattern, so that neither legend needs long combined names); optional
    horizontal reference line, and optional vertical bars from ``error_low`` to ``error_high`` (e.g.
    the replicate range)."""
    encoding = {"x": alt.X(f"{x}:Q", title=x_title or x), "y": alt.Y(f"{y}:Q", title=y_title or y,
                                                                     scale=alt.Scale(zero=False))}
    tooltip = [alt.Tooltip(f"{x}:Q", title=x_title or x), alt.Tooltip(f"{y}:Q", title=y_title or y, format=".3f")]
    if group:
        encoding["color"] = alt.Color(f"{group}:N", title=group)
        tooltip.insert(0, alt.Tooltip(f"{group}:N"))
    if dash:
        encoding["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=dash)
        tooltip.insert(0, alt.Tooltip(f"{dash}:N"))
    if error_low and error_high:
        tooltip += [alt.Tooltip(f"{error_low}:Q", format=".3f"), alt.Tooltip(f"{error_high}:Q", format=".3f")]
    if dash:  # points apart from the lines: the dash legend then draws strokes, not dots
        layers = [alt.Chart(frame).mark_line().encode(**encoding),
                  alt.Chart(frame).mark_point(filled=True).encode(
                      **{k: v for k, v in encoding.items() if k != "strokeDash"}, tooltip=tooltip)]
    else:
        layers = [alt.Chart(frame).mark_line(point=True).encode(**encoding, tooltip=tooltip)]
    if error_low and error_high:
        bars = {k: v for k, v in encoding.items() if k != "y"}
        layers.append(alt.Chart(frame).mark_rule().encode(**bars, y=f"{error_low}:Q", y2=f"{error_high}:Q"))
    if rule is not None:
        layers.append(alt.Chart(pd.DataFrame({"y": [rule]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q"))
    return alt.layer(*layers).properties(width=width, height=260, title=title)
