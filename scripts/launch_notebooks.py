"""Write the notebooks as .ipynb for the launch buttons, each opening with a Colab set-up cell.

    python scripts/launch_notebooks.py https://github.com/OWNER/REPO

Run by .github/workflows/book.yml to make the `launch` branch (main plus these .ipynb files),
which the book's Binder and Colab buttons open (see _config.yml). Colab opens a notebook
straight from GitHub, so it needs the .ipynb and must install taskspace itself: the first cell
clones the `launch` branch and installs it, on Colab only (elsewhere it does nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
from nbformat.v4 import new_code_cell

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((REPO_ROOT / "notebooks").glob("*.md")) + [
    REPO_ROOT / "book" / f"{name}.md" for name in ("reproducing", "seminar", "seminar_ja", "handout")]

COLAB_SETUP = '''# Google Colab only: fetch and install taskspace (needs internet; does nothing anywhere else).
# Colab's Python can be newer than the 3.11 the project is tested on, hence --ignore-requires-python.
import os, subprocess, sys
if "google.colab" in sys.modules:
    if not os.path.isdir("/content/taskspace"):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "launch", "{repository}", "/content/taskspace"],
                       check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--ignore-requires-python",
                        "-e", "/content/taskspace"], check=True)
    os.chdir("/content/taskspace")
    sys.path.insert(0, "/content/taskspace")'''


def write_launch_notebooks(repository: str, pages=PAGES) -> list[Path]:
    written = []
    for page in pages:
        notebook = jupytext.read(page)
        setup = new_code_cell(COLAB_SETUP.format(repository=repository))
        setup.metadata["tags"] = ["remove-cell", "colab-setup"]
        notebook.cells.insert(0, setup)
        target = page.with_suffix(".ipynb")
        jupytext.write(notebook, target)
        written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].startswith("https://github.com/"):
        sys.exit("usage: python scripts/launch_notebooks.py https://github.com/OWNER/REPO")
    for path in write_launch_notebooks(sys.argv[1]):
        print(path.relative_to(REPO_ROOT))
