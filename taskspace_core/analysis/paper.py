"""What the paper reports, as data: its within-phenomenon table (``data/paper``).

These are the only numbers in the book that this repository does not compute. The chapters set
them beside ours (never as a target); see ``data/paper/README.md`` for their source.
"""

from __future__ import annotations

import pandas as pd

from ..paths import DATA_DIR
from .similarity import pearson

PAPER_WITHIN = DATA_DIR / "paper" / "within_phenomenon.csv"


def paper_within_table() -> pd.DataFrame:
    """The paper's within-phenomenon table (see data/paper/README.md), long form."""
    return pd.read_csv(PAPER_WITHIN)


def agreement_with_paper(within: pd.DataFrame, paper_model: str = "LM203",
                         paper: pd.DataFrame | None = None, min_paradigms: int = 0) -> tuple[float, pd.DataFrame]:
    """Pearson r between our per-phenomenon mean similarities (``within``, indexed by phenomenon)
    and one of the paper's models, over the phenomena both cover.

    Returns ``(r, table)`` with ``table`` holding ``phenomenon, ours, paper (<model>)``; r is NaN
    when fewer than three phenomena are shared. ``min_paradigms`` > 0 leaves out the phenomena
    with fewer paradigms (``within.n_paradigms``): with 3, the two-paradigm phenomena, whose
    "mean" is a single pair's similarity.
    """
    paper = paper_within_table() if paper is None else paper
    ours = within.loc[within["n_paradigms"] >= min_paradigms, "mean"] if min_paradigms else within["mean"]
    theirs = paper[paper.model == paper_model].set_index("phenomenon")["mean"]
    common = ours.index.intersection(theirs.index)
    r = pearson(ours[common].to_numpy(), theirs[common].to_numpy()) if len(common) > 2 else float("nan")
    table = pd.DataFrame({"ours": ours[common], f"paper ({paper_model})": theirs[common]}).reset_index()
    return r, table


def agreement_table(withins: dict[str, pd.DataFrame], paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our agreement with each of the paper's models, for several of our spaces: one row per entry
    of ``withins`` (a label such as ``"medium seed 1, epoch 0.5"`` -> its per-phenomenon table) and
    one column per paper model, Pearson r over all shared phenomena, and again without the
    two-paradigm phenomena (columns ``<model> (3+ paradigms)``)."""
    paper = paper_within_table() if paper is None else paper
    models = list(dict.fromkeys(paper.model))
    rows = []
    for label, within in withins.items():
        row = {"space": label}
        for model in models:
            row[model] = agreement_with_paper(within, model, paper)[0]
            row[f"{model} (3+ paradigms)"] = agreement_with_paper(within, model, paper, min_paradigms=3)[0]
        rows.append(row)
    return pd.DataFrame(rows).set_index("space")
