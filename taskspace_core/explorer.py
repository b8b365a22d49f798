"""The task-space explorer: every committed space of a preset, browsable offline on one page.

`explorer_html(config)` returns a self-contained HTML block (the data, a heatmap template and
``explorer.js``) that the book's explorer page displays. In the browser the reader picks a space
(size, checkpoint, method, masks, replicate) and a metric, and sees its transfer heatmap, the
strongest transfers out of and into a chosen paradigm, and its within-phenomenon table. Nothing
is computed in the browser that the book computes elsewhere: the within-phenomenon tables and the
headline numbers are the ones exported beside each space (``within.csv``, ``manifest.json``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .config import Config
from .errors import TaskspaceError
from .results import load_space
from .task_space import METRICS

EXPLORER_JS = Path(__file__).with_name("explorer.js")
# the choices, in the order the page offers them; each narrows the next
FIELDS = ("size", "checkpoint", "method", "masks", "replicate")
HEADLINE = (("eval1_accuracy", "BLiMP accuracy before fine-tuning", ".3f"),
            ("hypothesis_pearson", "r with the hypothesis space", "+.3f"),
            ("mantel_p", "Mantel p", ".4f"),
            ("partial_mantel_r", "partial r (controls)", "+.3f"),
            ("mask_share_mean", "mean FTGD mask share", ".1%"))


def describe(key: dict, config: dict) -> dict[str, str]:
    """A committed space's choices in words, from its manifest's key and config."""
    ftgd, model = key["ftgd"], key["model"]
    if ftgd["method"] == "plain":
        masks = "none (every parameter)"
    elif ftgd["mask_rule"] == "top_fraction":
        masks = f"top {ftgd['top_fraction']:.0%} of |g|"
    else:
        masks = f"|g| ≥ {ftgd['threshold']:g}"
    replicate = (f"pretraining seed {config['pretrain']['seed']} · data split seed {key['split']['seed']}"
                 f" · FTGD seed {ftgd['seed']}")
    return {"size": model["size"], "checkpoint": f"epoch {float(model['epoch']):g}",
            "method": "FTGD" if ftgd["method"] == "ftgd" else "plain fine-tuning",
            "masks": masks, "replicate": replicate}


def committed_spaces(config: Config) -> list[Path]:
    """The preset's committed space directories, in name order."""
    root = config.reference_dir()
    spaces = sorted(p for p in (root / "spaces").iterdir() if p.is_dir()) if root and (root / "spaces").is_dir() else []
    if not spaces:
        raise TaskspaceError(f"no committed task spaces for preset {config.preset!r} under {root}: "
                             f"the explorer shows committed results (taskspace reproduce --preset {config.preset})")
    return spaces


def explorer_data(config: Config) -> dict:
    """Everything the page shows, as plain JSON: paradigms and phenomena in the heatmap's order,
    and per space its choices, headline numbers, transfer matrices (row-major, 4 decimals) and
    within-phenomenon table."""
    spaces, paradigms, phenomena, order = [], None, None, None
    for directory in committed_spaces(config):
        space = load_space(directory, config)
        if space is None:  # a damaged directory: load_space has warned, the page shows the rest
            continue
        manifest = json.loads((directory / "manifest.json").read_text())
        if paradigms is None:
            paradigms, phenomena = space.paradigms, space.phenomena
            order = plots.phenomenon_order(paradigms, phenomena)
        elif space.paradigms != paradigms:
            raise TaskspaceError(f"{directory}: its paradigms differ from the other spaces' (one explorer needs one set)")
        within = pd.read_csv(directory / "within.csv")[["phenomenon", "n_paradigms", "mean", "std"]].round(3)
        spaces.append({
            "name": directory.name,
            **describe(manifest["key"], manifest["config"]),
            "similarity": f"{manifest['config']['space']['similarity']} of {manifest['config']['space']['metric']} transfers",
            "headline": {label: format(manifest["headline"][field], spec) for field, label, spec in HEADLINE
                         if manifest["headline"].get(field) is not None},
            "transfer": {metric: np.round(space.transfer[metric][np.ix_(order, order)], 4).ravel().tolist()
                         for metric in METRICS},
            # the chapters' colour range (plots.colour_domain), so a space looks the same here and there
            "domain": {metric: list(plots.colour_domain(space.transfer[metric])) for metric in METRICS},
            "within": within.astype(object).where(within.notna(), None).to_dict("records"),
        })
    # two spaces that differ only in what `describe` leaves out (steps, learning rate, ...) stay
    # reachable: the later one's replicate names its key hash
    seen = set()
    for space in spaces:
        choices = tuple(space[f] for f in FIELDS)
        if choices in seen:
            space["replicate"] += f" · key {space['name'].rsplit('-', 1)[-1]}"
        seen.add(tuple(space[f] for f in FIELDS))
    metrics = [config.space.metric] + [m for m in METRICS if m != config.space.metric]  # the book's first
    return {"preset": config.preset, "fields": list(FIELDS), "metrics": metrics,
            "paradigms": [paradigms[i] for i in order], "phenomena": [phenomena[i] for i in order],
            "spaces": spaces}


def explorer_html(config: Config) -> str:
    """The explorer as one HTML block: data, heatmap template and script (drawn by the book's bundle)."""
    data = explorer_data(config)
    n = len(data["paradigms"])
    # the heatmap is plots.matrix_heatmap's own spec; the page swaps in each space's values
    # (layer 0's single data row, field "transfer"), its colour domain (computed here) and its title
    template = plots.matrix_heatmap(np.zeros((n, n)), data["paradigms"], data["phenomena"], "transfer",
                                    value="transfer", size=460).to_dict()

    def as_json(value) -> str:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")

    script = EXPLORER_JS.read_text()
    return (f'<div id="taskspace-explorer" class="taskspace-explorer" data-preset="{html.escape(config.preset)}">'
            f'<p>Loading the explorer…</p></div>\n'
            f'<script type="application/json" id="taskspace-explorer-data">{as_json(data)}</script>\n'
            f'<script type="application/json" id="taskspace-explorer-heatmap">{as_json(template)}</script>\n'
            f'<script>\n{script}\n</script>')
