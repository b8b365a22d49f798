"""A tiny Sphinx extension for the book build: drop script tags that appear twice on a page.

With Jupyter Book 1.0.4 (Sphinx 7.4, sphinx-thebe 0.3.1, sphinx-togglebutton), some inline
scripts are registered twice. The second ``const THEBE_JS_URL = ...`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" in every browser. The browser test
(tests/test_browser.py) catches that kind of failed script.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
