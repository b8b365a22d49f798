"""Where things live: the repository, its data and presets, committed results and run stores.

A clone holds the package, its ``data/``, the committed results and the book's sources. An
installed wheel carries the small data as the package ``taskspace_core.data`` (BLiMP, its
baselines, the paper's table: ``pyproject.toml`` maps ``data/`` onto it) and nothing else of the
repository: what needs more says so in one line (:func:`repo_file`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
IN_CLONE = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data" / "blimp").is_dir()
DATA_DIR = REPO_ROOT / "data" if IN_CLONE else PACKAGE_DIR / "data"
PRESET_DIR = PACKAGE_DIR / "presets"
# preset -> the preset whose committed reference results it replaces: the claims chapter sets the
# two presets' verdicts side by side (``evidence.verdicts_beside``)
REPLACES = {"cpu": "cpu-v1"}


def repo_file(relative: str) -> Path:
    """``REPO_ROOT / relative``, or a ConfigError saying that it lives in a clone of the repository
    only (an installed wheel carries the package and its small data, not the corpus, the
    committed results or the book's sources)."""
    path = REPO_ROOT / relative
    if not path.exists():
        raise ConfigError(f"{relative} is part of the taskspace repository, not of the installed package "
                          f"(looked in {REPO_ROOT}): run this from a clone, or point the command at a copy")
    return path

