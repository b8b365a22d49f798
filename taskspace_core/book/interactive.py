"""Interactive charts that work offline.

The book's charts are Vega-Lite specs that the reader's browser draws with Vega, Vega-Lite and
Vega-Embed, served by the book itself (``_static/taskspace-vega.js``, built from the copy inside
vl-convert): hover tooltips and the phenomenon selector work without a network, and nothing is
fetched. Three pieces:

- `renderer`: the altair renderer the chapters enable (`plots.use_book_rendering`). A chart's
  output carries its Vega-Lite spec *and* a static SVG, for PDF builds, print and notebook viewers
  that cannot draw the spec;
- `VegaLitePlugin`: the myst-nb mime plugin that turns the spec into an embedded chart on HTML
  pages (an entry point in pyproject.toml, so `jupyter-book build .` uses it too);
- `write_bundle`: the JavaScript bundle and its licences, written into the build by
  `taskspace_core.sphinx_ext`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import altair as alt
import vl_convert as vlc
from docutils import nodes

# A mime type of our own: the book's plugin draws it; Jupyter, which does not know it, shows the SVG
# ("+json": nbformat stores the spec as an object)
MIME_TYPE = "application/vnd.taskspace.vegalite+json"
VEGALITE_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])  # "6.4": the schema altair writes
BUNDLE_NAME = "taskspace-vega.js"
LICENSES_NAME = "taskspace-vega-LICENSES.txt"
LICENSES = Path(__file__).with_name("vega_licenses.txt")

# Runs once in the bundle, where the three libraries are in scope. `taskspaceEmbed(id)` draws the
# spec stored in the page's <script type="application/json" id="{id}-spec"> into <div id="{id}">.
# SVG output (not canvas): crisp when printed, and every mark is an element a test can hover.
_EMBED_SNIPPET = """
window.vega = vega;
window.vegaLite = vegaLite;
window.vegaEmbed = vegaEmbed;
window.taskspaceEmbed = function (id) {
  const target = document.getElementById(id);
  const spec = JSON.parse(document.getElementById(id + "-spec").textContent);
  const options = {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}};
  return vegaEmbed(target, spec, options).catch(function (error) {
    target.textContent = "This chart could not be drawn: " + error;
    console.error(error);
  });
};
"""


def renderer(spec: dict, **_metadata) -> dict:
    """Altair renderer: the Vega-Lite spec for the book and a static SVG for everything else."""
    return {MIME_TYPE: spec, "image/svg+xml": vlc.vegalite_to_svg(spec, vl_version=VEGALITE_VERSION),
            "text/plain": f"<chart: {_title(spec)}>"}


def _title(spec: dict) -> str:
    title = spec.get("title", "")
    return title.get("text", "") if isinstance(title, dict) else str(title)


def embed_html(spec: dict, chart_id: str) -> str:
    """The HTML that draws ``spec`` in place with the book's bundle.

    The spec travels as a JSON script element (never executed); ``</`` is escaped so that no string
    inside it can close the element.
    """
    spec_json = json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    label = html.escape(_title(spec) or "chart", quote=True)
    return (f'<div class="taskspace-chart" id="{chart_id}" role="img" aria-label="{label}"></div>\n'
            f'<script type="application/json" id="{chart_id}-spec">{spec_json}</script>\n'
            f'<script>window.taskspaceEmbed ? taskspaceEmbed("{chart_id}") : '
            f'window.addEventListener("load", function () {{ taskspaceEmbed("{chart_id}"); }});</script>')


class VegaLitePlugin:
    """myst-nb mime plugin: on HTML pages a chart's Vega-Lite spec wins over its static SVG and is
    embedded; other builders (LaTeX/PDF) keep the SVG."""

    mime_priority_overrides = [("html", MIME_TYPE, 1), ("dirhtml", MIME_TYPE, 1), ("singlehtml", MIME_TYPE, 1)]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if inline or data.mime_type != MIME_TYPE:
            return None
        spec = data.content if isinstance(data.content, dict) else json.loads(data.content)
        chart_id = f"taskspace-chart-{data.cell_index}-{data.output_index}"
        return [nodes.raw("", embed_html(spec, chart_id), format="html", classes=["output", "text_html"])]


def write_bundle(directory: Path) -> Path:
    """Write ``taskspace-vega.js`` (Vega, Vega-Lite, Vega-Embed and `taskspaceEmbed`) and its
    licences into ``directory``; an existing bundle from the same vl-convert is kept."""
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / BUNDLE_NAME
    stamp = f"// built by vl-convert-python {vlc.__version__} for Vega-Lite {VEGALITE_VERSION}; licences: {LICENSES_NAME}\n"
    if not bundle.exists() or not bundle.read_text().startswith(stamp):
        code = vlc.javascript_bundle(_EMBED_SNIPPET, vl_version=VEGALITE_VERSION)
        # one function scope around the bundle: its top-level names (`_`, `t`, ...) must not clash
        # with the page's own scripts (Sphinx's doctools.js declares `const _`)
        tmp = bundle.with_suffix(".tmp")
        tmp.write_text(f"{stamp}(function () {{\n{code}\n}})();\n")
        tmp.replace(bundle)
    (directory / LICENSES_NAME).write_text(LICENSES.read_text())
    return bundle
