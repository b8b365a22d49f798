"""What the book's notebooks share: parameters -> config, cached task spaces, paper numbers.

Notebook parameters use the config's own field names with the section joined by an
underscore (``ftgd_threshold`` is ``ftgd.threshold``, ``space_metric`` is ``space.metric``).
``None`` means "the preset's value". A wrong type or an unknown name is a
:class:`~taskspace_core.errors.ConfigError` that names the parameter.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .config import REPO_ROOT, Config, load_preset
from .errors import ConfigError
from .probing import TaskSpace
from .report import Analysis, analyse, write_report

PAPER_WITHIN = REPO_ROOT / "data" / "paper" / "within_phenomenon.csv"
_SECTIONS = ("data", "tokenizer", "pretrain", "scoring", "ftgd", "space")
DEVICE_VARIABLE = "TASKSPACE_DEVICE"  # the device notebooks compute on, when a command line chose one


def parameter_overrides(**parameters) -> dict[str, object]:
    """``{"ftgd_threshold": 1e-3, "work_dir": "runs"}`` -> ``{"ftgd.threshold": 1e-3, "work_dir": "runs"}``."""
    top_level = {f.name for f in dataclasses.fields(Config)}
    overrides = {}
    for name, value in parameters.items():
        if value is None:
            continue
        if name in top_level:
            overrides[name] = value
            continue
        section, _, field = name.partition("_")
        if section not in _SECTIONS or not field:
            raise ConfigError(f"notebook parameter '{name}' is not a config field "
                              f"(use <section>_<field> with section one of {', '.join(_SECTIONS)})")
        overrides[f"{section}.{field}"] = list(value) if isinstance(value, tuple) else value
    return overrides


def notebook_config(preset: str, **parameters) -> Config:
    """The config a notebook runs under: a preset plus its parameters."""
    overrides = parameter_overrides(**parameters)
    if os.environ.get(DEVICE_VARIABLE):  # `taskspace book/run --device D` sets it for the kernels
        overrides.update({f"{s}.device": os.environ[DEVICE_VARIABLE] for s in ("pretrain", "scoring", "ftgd")})
    try:
        return load_preset(preset, overrides)
    except ConfigError as exc:  # name the culprit as the notebook spells it: ftgd_threshold, not config.ftgd.threshold
        text = re.sub(r"config\.(\w+)\.(\w+)", lambda m: f"parameter {m[1]}_{m[2]} (config field {m[1]}.{m[2]})",
                      str(exc), count=1)
        raise ConfigError(f"notebook parameters: {text}") from None


def task_space(config: Config, size: str | None = None, checkpoint: str = "final",
               **changes) -> tuple[TaskSpace, Analysis]:
    """The task space (and its analysis) of one checkpoint: committed results, else the run store.

    ``changes`` are more notebook-style parameters on top of ``config`` (e.g. ``ftgd_method="plain"``).
    A space found in the committed results (``results/<preset>``) needs no weights; any other is
    loaded from the run store or computed, and its report tables are written next to it.
    """
    from .config import apply_overrides
    from .reference import load_or_compute_space

    if changes:
        config = apply_overrides(config, parameter_overrides(**changes))
    space = load_or_compute_space(config, size or largest_size(config), checkpoint, log=lambda *_: None)
    analysis = analyse(space, config)
    if space.meta.get("source") != "reference":  # committed results are never written to
        write_report(space, analysis, config)
    return space, analysis


def glue(name: str, value) -> None:
    """myst-nb ``glue`` for the prose: numpy scalars become plain Python numbers, nothing is displayed."""
    from myst_nb import glue as myst_glue

    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=False)


def largest_size(config: Config) -> str:
    return list(config.sizes)[-1]


def checkpoint_epochs(config: Config) -> list[float]:
    return sorted(config.pretrain.checkpoints)


def paper_within_table() -> pd.DataFrame:
    """The paper's within-phenomenon table (see data/paper/README.md), long form."""
    return pd.read_csv(PAPER_WITHIN)


def mean_std(table: pd.DataFrame) -> pd.Series:
    """'0.12 ± 0.34' strings from a frame with ``mean`` and ``std`` columns."""
    return table.apply(lambda r: "" if pd.isna(r["mean"]) else f"{r['mean']:.2f} ± {r['std']:.2f}", axis=1)


def within_pairs(similarity: np.ndarray, paradigms: list[str], phenomena: list[str]) -> pd.DataFrame:
    """Every pair of paradigms of the same phenomenon with its similarity, one row each."""
    rows = []
    for i in range(len(paradigms)):
        for j in range(i + 1, len(paradigms)):
            if phenomena[i] == phenomena[j]:
                rows.append({"phenomenon": phenomena[i], "paradigm_a": paradigms[i], "paradigm_b": paradigms[j],
                             "similarity": similarity[i, j]})
    return pd.DataFrame(rows)


def classify_patterns(similarity: np.ndarray, paradigms: list[str], phenomena: list[str],
                      high: float = 0.3, low: float = 0.0) -> pd.DataFrame:
    """The paper's patterns, by a rule we state (the paper gives examples, not a rule).

    Per phenomenon with at least two paradigms, over the similarities of its pairs:
    - **A** (shared): the mean is at least ``high`` and no pair is below ``low``;
    - **B** (partly shared, partly in conflict): some pair reaches ``high`` and some falls below ``low``;
    - **C** (no visible relation): everything else, i.e. no pair reaches ``high``, or the pairs
      are all weakly positive.
    """
    pairs = within_pairs(similarity, paradigms, phenomena)
    rows = []
    for phenomenon, group in pairs.groupby("phenomenon"):
        values = group.similarity.to_numpy()
        if values.mean() >= high and values.min() >= low:
            pattern = "A"
        elif values.max() >= high and values.min() < low:
            pattern = "B"
        else:
            pattern = "C"
        best, worst = group.loc[group.similarity.idxmax()], group.loc[group.similarity.idxmin()]
        rows.append({"phenomenon": phenomenon, "pattern": pattern, "n_pairs": len(values), "mean": values.mean(),
                     "min": values.min(), "max": values.max(),
                     "most_similar": f"{best.paradigm_a} ~ {best.paradigm_b} ({best.similarity:+.2f})",
                     "least_similar": f"{worst.paradigm_a} ~ {worst.paradigm_b} ({worst.similarity:+.2f})"})
    return pd.DataFrame(rows).set_index("phenomenon")


def offdiag_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the off-diagonal entries of two square matrices (e.g. two task spaces)."""
    mask = ~np.eye(a.shape[0], dtype=bool)
    x, y = a[mask], b[mask]
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def results_path(path: Path) -> str:
    """A store path relative to the repo root when possible (for the book's provenance notes)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclasses.dataclass
class ClaimsEvidence:
    """The four claims' verdicts and the task spaces behind them (the claims chapter and the slides)."""

    verdicts: list  # of claims.Verdict, in the paper's order
    parameters_m: dict[str, float]  # size -> millions of parameters
    final: dict[str, tuple[TaskSpace, Analysis]]  # every size at its final checkpoint
    over_training: dict[float, tuple[TaskSpace, Analysis]]  # the dynamics size at every checkpoint


def paper_claims(config: Config) -> ClaimsEvidence:
    """Hold the paper's four claims against ``config``'s task spaces (rules in :mod:`.claims`)."""
    from . import claims
    from .models import spec_parameters

    rq1_size, dynamics_size = config.chapter_size("rq1"), config.chapter_size("dynamics")
    params = {s: spec_parameters(config.size(s), config.tokenizer.vocab_size) / 1e6 for s in config.sizes}
    final = {s: task_space(config, s) for s in config.sizes}
    over_training = {e: task_space(config, dynamics_size, e) for e in checkpoint_epochs(config)}
    verdicts = [
        claims.resembles_hypothesis(final[rq1_size][1], f"{rq1_size} ({params[rq1_size]:.2f}M)"),
        claims.grows_with_size({f"{s} {params[s]:.2f}M": an for s, (_, an) in final.items()}, paper_within_table()),
        claims.changes_early_then_settles({e: an for e, (_, an) in over_training.items()}),
        claims.region_grows({e: sp.mask_union_share for e, (sp, _) in over_training.items()}),
    ]
    return ClaimsEvidence(verdicts, params, final, over_training)
