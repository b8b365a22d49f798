"""What the paper reports, as data: its within-phenomenon table (``data/paper``).

These are the only numbers in the book that this repository does not compute. The chapters set
them beside ours (never as a target); see ``data/paper/README.md`` for their source.
"""

from __future__ import annotations

import pandas as pd

from .config import REPO_ROOT
from .similarity import pearson

PAPER_WITHIN = REPO_ROOT / "data" / "paper" / "within_phenomenon.csv"


def paper_within_table() -> pd.DataFrame:
    """The paper's within-phenomenon table (see data/paper/README.md), long form."""
    return pd.read_csv(PAPER_WITHIN)


def agreement_with_paper(within: pd.DataFrame, paper_model: str = "LM203",
                         paper: pd.DataFrame | None = None) -> tuple[float, pd.DataFrame]:
    """Pearson r between our per-phenomenon mean similarities (``within``, indexed by phenomenon)
    and one of the paper's models, over the phenomena both cover.

    Returns ``(r, table)`` with ``table`` holding ``phenomenon, ours, paper (<model>)``; r is NaN
    when fewer than three phenomena are shared.
    """
    paper = paper_within_table() if paper is None else paper
    ours = within["mean"]
    theirs = paper[paper.model == paper_model].set_index("phenomenon")["mean"]
    common = ours.index.intersection(theirs.index)
    r = pearson(ours[common].to_numpy(), theirs[common].to_numpy()) if len(common) > 2 else float("nan")
    table = pd.DataFrame({"ours": ours[common], f"paper ({paper_model})": theirs[common]}).reset_index()
    return r, table
