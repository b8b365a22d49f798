"""What a reader of a built book would trip over, page by page (used by the tests that build one).

Checked on the text a reader sees: the page's HTML without scripts, styles and the code of input
cells (a reader of the code may well see ``np.nan``).
"""

from __future__ import annotations

import re
from pathlib import Path

_HIDDEN = re.compile(r"<(script|style)\b.*?</\1>|<div class=\"cell_input[^\"]*\".*?</div>\s*</div>", re.S)
_TAG = re.compile(r"<[^>]+>")
NAN = re.compile(r"(?<![\w.])[+-]?nan(?![\w(])", re.I)  # "nan", "+nan", "NaN" as a word; not "nanoGPT"
WARNING = re.compile(r"\b\w*Warning\b[:(]")  # "UserWarning:", "TqdmWarning(": a warning printed into an output
MACHINE_PATH = re.compile(r"(?<![\w.])(/root/|/home/|/Users/|[\w-]*\.venv/)")  # a home or an environment


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", _TAG.sub(" ", _HIDDEN.sub(" ", html)))


def page_problems(html_dir: Path) -> list[str]:
    """``"page: what (context)"`` for every nan, printed warning and machine path on the book's pages."""
    problems = []
    for page in sorted([*(html_dir / "notebooks").glob("*.html"), *(html_dir / "book").glob("*.html")]):
        text = visible_text(page.read_text(encoding="utf-8"))
        for what, pattern in (("nan", NAN), ("a warning", WARNING), ("a machine path", MACHINE_PATH)):
            for match in pattern.finditer(text):
                context = text[max(0, match.start() - 60):match.end() + 30]
                problems.append(f"{page.relative_to(html_dir)}: {what} ({context!r})")
    return problems
