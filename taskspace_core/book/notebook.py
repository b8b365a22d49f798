"""What the book's notebooks share: parameters -> config, the plan and its spaces, and the glue
between numbers and prose.

The chapters' computations live in the package (the plan of spaces: :mod:`..plan.requests`; the
paper's claims: :mod:`..analysis.claims`; the paper's numbers: :mod:`..analysis.paper`). This
module turns a notebook's parameters into a config, gives it the plan and a source of its task
spaces (:func:`book_plan`), hands numbers to the prose, and puts the data behind a figure or
table on its page as a CSV download. Notebook parameters use the config's own field names with the section joined by an
underscore (``ftgd_threshold`` is ``ftgd.threshold``, ``space_metric`` is ``space.metric``).
``None`` means "the preset's value". A wrong type or an unknown name is a
:class:`~taskspace_core.errors.ConfigError` that names the parameter.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML
from myst_nb import glue as myst_glue

from ..config import Config, load_preset, parameter_overrides
from ..errors import READ_ONLY_VARIABLE, ConfigError, MissingResult
from ..paths import REPO_ROOT
from ..plan.ensure import Ensurer
from ..plan.requests import Plan, plan_of
from ..results.read import Reader

DEVICE_VARIABLE = "TASKSPACE_DEVICE"  # the device notebooks compute on, when a command line chose one


def notebook_config(preset: str, **parameters) -> Config:
    """The config a notebook runs under: a preset plus its parameters. A relative ``work_dir``
    means the repository's (a page executed by `jupyter-book build .` runs in its own folder)."""
    overrides = parameter_overrides(**parameters)
    if "work_dir" in overrides and not Path(str(overrides["work_dir"])).is_absolute():
        overrides["work_dir"] = str(REPO_ROOT / str(overrides["work_dir"]))
    if os.environ.get(DEVICE_VARIABLE):  # `taskspace book/run --device D` sets it for the kernels
        overrides["device"] = os.environ[DEVICE_VARIABLE]
    try:
        return load_preset(preset, overrides)
    except ConfigError as exc:  # name the culprit as the notebook spells it: ftgd_threshold, not config.ftgd.threshold
        text = re.sub(r"config\.(\w+)\.(\w+)", lambda m: f"parameter {m[1]}_{m[2]} (config field {m[1]}.{m[2]})",
                      str(exc), count=1)
        raise ConfigError(f"notebook parameters: {text}") from None


def book_plan(config: Config) -> tuple[Plan, Reader]:
    """The plan of ``config``'s book and where its chapters take their task spaces: committed
    results or the run store, and (unless :data:`~taskspace_core.errors.READ_ONLY_VARIABLE` is
    set: then a missing one fails the page in one line) computed where neither holds them.
    ``spaces(request)`` is ``(space, analysis)``."""
    spaces = Reader(config) if os.environ.get(READ_ONLY_VARIABLE) else Ensurer(config)
    return plan_of(config), spaces


def companion_spaces(config: Config, spaces, compute: bool = True):
    """Where a chapter takes the spaces it reads its own against (the untrained null, the
    pretraining-seed replicates): ``spaces`` itself when ``compute``; else only those that exist,
    committed or in the run store, and ``(None, None)`` for one that does not. An exercise on a
    changed selection of paradigms then computes its own space on the shipped model and never
    pretrains a null or a replicate for it."""
    if compute:
        return spaces
    reader = Reader(config)

    def existing(request):
        try:
            return reader(request)
        except MissingResult:
            return None, None
    return existing


def glue(name: str, value) -> None:
    """myst-nb ``glue`` for the prose: numpy scalars become plain Python numbers, nothing is displayed."""
    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=False)


def mean_std(table: pd.DataFrame) -> pd.Series:
    """'0.12 ± 0.34' strings from a frame with ``mean`` and ``std`` columns."""
    return table.apply(lambda r: "" if pd.isna(r["mean"]) else f"{r['mean']:.2f} ± {r['std']:.2f}", axis=1)


def measures_as_rows(frame: pd.DataFrame, formats: dict[str, str], na_rep: str = "n/a") -> pd.DataFrame:
    """A table of many measures (columns) over a few runs (the index) turned a quarter: one row per
    measure, one column per run, each value formatted by its measure's ``formats`` entry (a
    ``str.format`` pattern; unlisted measures as they are). Twelve measures side by side overflow
    the reading column; twelve rows fit it."""
    shown = frame.astype(object).copy()
    for column in shown.columns:
        pattern = formats.get(column, "{}")
        shown[column] = [na_rep if pd.isna(value) else pattern.format(value) for value in frame[column]]
    return shown.T


def breakable(name: str) -> str:
    """A paradigm name with a line-break opportunity after each underscore (``<wbr>``: invisible,
    and not copied), for a table cell that shows names beside numbers; the numbers stay whole."""
    return html.escape(str(name)).replace("_", "_<wbr>")


def results_path(path: Path) -> str:
    """A store path relative to the repo root when possible (for the book's provenance notes)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def download_link(frame: pd.DataFrame, filename: str, what: str = "the data behind this figure",
                  index: bool = False) -> HTML:
    """A link that saves ``frame`` as ``filename`` (CSV), exactly the table the page shows. The
    executed notebook embeds it (so a notebook run by ``taskspace run`` is self-contained); the
    book's HTML build writes it into a file beside the page and links that instead
    (:func:`~taskspace_core.book.sphinx_ext.unembed_downloads`), which keeps pages light."""
    data = base64.b64encode(frame.to_csv(index=index, float_format="%.6g").encode()).decode()
    return HTML(f'<p class="taskspace-download"><a download="{html.escape(filename)}" '
                f'href="data:text/csv;base64,{data}">Download {html.escape(what)} (CSV, {len(frame):,} rows)</a></p>')


def long_matrix(matrix, paradigms: list[str], value: str) -> pd.DataFrame:
    """An (n, n) matrix over paradigms in long form: ``row, column, <value>``, one line per cell."""
    n = len(paradigms)
    return pd.DataFrame({"row": np.repeat(paradigms, n), "column": np.tile(paradigms, n),
                         value: np.asarray(matrix).ravel()})
