"""A tiny Sphinx extension for the book build: the offline chart bundle, and no script tag twice.

On HTML builds it writes the Vega bundle and its licences (`interactive.write_bundle`) next to the
build and loads it on every page, so the charts embedded by `interactive.VegaLitePlugin` draw
without a network.

It also drops script tags that appear twice on a page, and runs the kernels of pages that
myst-nb executes (``jupyter-book build .``) over IPC, as ``taskspace book`` runs papermill's.

With Jupyter Book 1.0.4 (Sphinx 7.4, sphinx-thebe 0.3.1, sphinx-togglebutton), some inline
scripts are registered twice. The second ``const THEBE_JS_URL = ...`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" in every browser. The browser test
(tests/test_browser.py) catches that kind of failed script.
"""

from __future__ import annotations

from pathlib import Path

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


def _add_chart_bundle(app) -> None:
    if app.builder.format != "html":
        return
    static = Path(app.doctreedir).parent / "taskspace_static"
    write_bundle(static)
    app.config.html_static_path = [*app.config.html_static_path, str(static)]
    app.add_js_file(BUNDLE_NAME)


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
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
