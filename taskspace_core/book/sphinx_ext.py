"""A tiny Sphinx extension for the book build: the offline chart bundle, and no script tag twice.

On HTML builds it writes the Vega bundle and its licences (`interactive.write_bundle`) next to the
build and loads it on every page, so the charts embedded by `interactive.VegaLitePlugin` draw
without a network.

It also drops script tags that appear twice on a page, runs the kernels of pages that myst-nb
executes (``jupyter-book build .``) over IPC, as ``taskspace book`` runs papermill's, and joins
the lines of Japanese paragraphs without a space (:func:`join_cjk_lines`), sets glued sentences
as prose rather than bold (:func:`mark_glued_prose`, with the book's stylesheet ``taskspace.css``,
which also lays pages out for print), and writes the tables that notebooks embed as download links
into files beside the page (:func:`unembed_downloads`).
The notebooks a reader downloads from a page (``_sources``) are shipped without their outputs,
which the page itself shows (:func:`strip_shipped_notebooks`).

With Jupyter Book 1.0.4 (Sphinx 7.4, sphinx-thebe 0.3.1, sphinx-togglebutton), some inline
scripts are registered twice. The second ``const THEBE_JS_URL = ...`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" in every browser. The browser test
(tests/test_browser.py) catches that kind of failed script.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from docutils import nodes
from nbclient import NotebookClient

from .build import LocalKernelManager
from .interactive import BUNDLE_NAME, write_bundle


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # an inline script is registered once with filename None and once with "": the same script
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


# Hiragana, katakana, CJK ideographs and the CJK and full-width punctuation blocks.
CJK = "\u3000-\u303f\u3040-\u30ff\u4e00-\u9fff\uff00-\uffef"
_CJK_CHAR = re.compile(f"[{CJK}]")


def join_cjk_lines(doctree: nodes.Node) -> int:
    """Drop the line breaks of a paragraph's source that fall between two CJK characters.

    MyST keeps a soft line break as ``"\\n"`` in the text, which HTML shows as a space: right
    between English words, a stray space between Japanese ones ("再現結果を 短く"). Japanese
    has no spaces between words, so a break with a CJK character on both sides is removed, also
    where the two characters sit in different nodes (text, then a link). Breaks next to Latin
    letters or digits stay spaces, as Japanese typesetting puts them there ("4 GB の").
    Literal text (code) is left alone. Returns how many breaks were removed.
    """
    removed = 0
    for paragraph in doctree.findall(nodes.paragraph):
        texts = [t for t in paragraph.findall(nodes.Text)
                 if not isinstance(t.parent, (nodes.literal, nodes.FixedTextElement, nodes.raw))]
        flat = "".join(texts)
        drop, start = set(), 0
        for text in texts:  # offsets in `flat` of the breaks to drop, per text node
            for i, char in enumerate(text):
                at = start + i
                if char == "\n" and 0 < at < len(flat) - 1 and _CJK_CHAR.match(flat[at - 1]) \
                        and _CJK_CHAR.match(flat[at + 1]):
                    drop.add(at)
            start += len(text)
        if not drop:
            continue
        start = 0
        for text in texts:
            kept = "".join(c for i, c in enumerate(text) if start + i not in drop)
            if kept != str(text):
                text.parent.replace(text, nodes.Text(kept))
            start += len(text)
        removed += len(drop)
    return removed


def _join_cjk_lines(app, doctree, docname=None) -> None:
    join_cjk_lines(doctree)


STYLESHEET = Path(__file__).with_name("taskspace.css")
PROSE_CLASS = "taskspace-prose"
# a glued value longer than this many words is a sentence, not a number or a verdict; two CJK
# characters count as one word (Japanese has no spaces: "30 分の枠に結果を読む時間が残ります")
PROSE_WORDS = 8


def glued_words(text: str) -> int:
    """The length of a glued text in words, for :func:`mark_glued_prose`."""
    return len(text.split()) + len(_CJK_CHAR.findall(text)) // 2


def mark_glued_prose(doctree: nodes.Node) -> int:
    """Mark every glued text longer than ``PROSE_WORDS`` words with the class ``taskspace-prose``.

    myst-nb sets every pasted text (``{glue:text}``) in bold. For a number or a verdict that is
    the emphasis a reader wants; a glued sentence or a whole glued paragraph then reads as one
    bold block. ``taskspace.css`` sets the marked ones in the weight of the text around them.
    Returns how many were marked."""
    marked = 0
    for inline in doctree.findall(nodes.inline):
        if "pasted-text" in inline["classes"] and PROSE_CLASS not in inline["classes"] \
                and glued_words(inline.astext()) > PROSE_WORDS:
            inline["classes"].append(PROSE_CLASS)
            marked += 1
    return marked


def _mark_glued_prose(app, doctree, docname=None) -> None:
    mark_glued_prose(doctree)


# `notebook.download_link`'s anchor: the table embedded in the page as a data URI
_EMBEDDED_CSV = re.compile(r'<a download="([^"/\\]+)" href="data:text/csv;base64,([A-Za-z0-9+/=]+)"')


def _beside_page(outdir: Path, pagename: str, name: str) -> tuple[Path, str]:
    """Where a file that belongs to page ``pagename`` is written (``<outdir>/downloads/<pagename>/
    <name>``, its folder created), and its address relative to the page."""
    target = outdir / "downloads" / pagename / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, f"{'../' * pagename.count('/')}downloads/{pagename}/{name}"


def unembed_downloads(body: str, pagename: str, outdir: Path) -> str:
    """``body`` with every table that :func:`~taskspace_core.book.notebook.download_link`
    embedded written to ``<outdir>/downloads/<pagename>/<file>`` and linked there instead.

    An executed notebook keeps its tables inside (``taskspace run`` output opens anywhere), but
    inline they made RQ1's page 2.3 MB, 1.9 MB of it CSV; as files the pages stay light and
    each table loads only when a reader asks for it."""
    def to_file(match: re.Match) -> str:
        name, data = match.groups()
        target, href = _beside_page(outdir, pagename, name)
        target.write_bytes(base64.b64decode(data))
        return f'<a download="{name}" href="{href}"'

    return _EMBEDDED_CSV.sub(to_file, body)


# `explorer.explorer_html`'s data block: every committed space's matrices, about 2 MB of JSON
_EXPLORER_DATA = re.compile(r'<script type="application/json" id="taskspace-explorer-data">(.*?)</script>', re.S)


def unembed_explorer_data(body: str, pagename: str, outdir: Path) -> str:
    """``body`` with the explorer's inline data moved into ``<outdir>/downloads/<pagename>/
    explorer-data.js`` (``window.taskspaceExplorerData = ...``), loaded by a plain script tag: the
    page stays under its weight limit, and a classic script loads from ``file://`` too, where a
    ``fetch`` of a JSON file would be refused."""
    match = _EXPLORER_DATA.search(body)
    if match is None:
        return body
    target, src = _beside_page(outdir, pagename, "explorer-data.js")
    target.write_text(f"window.taskspaceExplorerData = {match.group(1)};\n", encoding="utf-8")
    return body[:match.start()] + f'<script id="taskspace-explorer-data" src="{src}"></script>' + body[match.end():]


def _unembed_downloads(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if body and "data:text/csv;base64," in body:
        body = unembed_downloads(body, pagename, Path(app.outdir))
    if body and "taskspace-explorer-data" in body:
        body = unembed_explorer_data(body, pagename, Path(app.outdir))
    if body is not None:
        context["body"] = body


def strip_shipped_notebooks(outdir: Path) -> int:
    """Clear the outputs of every notebook under ``<outdir>/_sources``; returns how many.

    The page's download button offers the executed notebook. Its outputs (every chart's data,
    every table) are the page itself a second time: 25 of the `cpu` build's 39 MB. Shipped
    without them, the notebook is the page's source with the parameters it ran with (papermill's
    injected cell stays), which is what a reader re-executes."""
    stripped = 0
    for path in sorted((outdir / "_sources").rglob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        stripped += 1
    return stripped


def _strip_shipped_notebooks(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        strip_shipped_notebooks(Path(app.outdir))


def _add_chart_bundle(app) -> None:
    if app.builder.format != "html":
        return
    static = Path(app.doctreedir).parent / "taskspace_static"
    write_bundle(static)
    (static / STYLESHEET.name).write_text(STYLESHEET.read_text(encoding="utf-8"), encoding="utf-8")
    app.config.html_static_path = [*app.config.html_static_path, str(static)]
    app.add_js_file(BUNDLE_NAME)
    app.add_css_file(STYLESHEET.name)


def kernels_over_ipc() -> None:
    """myst-nb executes each page through nbclient, whose default kernel manager opens TCP sockets;
    every kernel then logs that its traffic is unencrypted, once per page. Neither myst-nb nor
    nbclient has a setting for this outside a Jupyter application, so the book build replaces
    nbclient's default (a dynamic traitlets default, ``_kernel_manager_class_default``) with the
    IPC manager `taskspace book` gives papermill. A client given a manager explicitly keeps it."""
    NotebookClient._kernel_manager_class_default = lambda _client: LocalKernelManager


def setup(app):
    kernels_over_ipc()
    app.connect("builder-inited", _add_chart_bundle)
    # once on reading, and again once the doctree is resolved for writing: myst-nb pastes glued
    # values into the paragraph only after `doctree-read`, splitting its text around them
    app.connect("doctree-read", _join_cjk_lines)
    app.connect("doctree-resolved", _join_cjk_lines)
    app.connect("doctree-resolved", _mark_glued_prose)  # glued values exist only once resolved
    app.connect("html-page-context", _unembed_downloads)
    app.connect("build-finished", _strip_shipped_notebooks)
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
