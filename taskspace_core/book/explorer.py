"""The task-space explorer: every committed space of a preset, browsable offline on one page.

`explorer_html(config)` returns a self-contained HTML block (the data, a heatmap template and
``explorer.js``) that the book's explorer page displays. In the browser the reader picks a space
(size, checkpoint, method, masks, replicate) and a metric, and sees its transfer heatmap, the
strongest transfers out of and into a chosen paradigm, and its within-phenomenon table. Nothing
is computed in the browser that the book computes elsewhere: the within-phenomenon tables and the
headline numbers are the ones exported beside each space (``within.csv``, ``manifest.json``).

A preset without committed results (``ci``, ``tiny``: the book computes their spaces) shows the
planned spaces its run store holds, the ones the book build just computed and analysed (their
``summary.json``, ``within.csv`` and ``transfer.csv.gz``); with neither, the page says so.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.space import METRICS, Origin
from ..config import Config, FTGDConfig
from ..corpora import benchmarks
from ..corpora.benchmarks import TITLES
from ..plan.requests import Role, SpaceRequest, mask_label, plan_of
from ..results.read import Reader, load_space
from . import plots

EXPLORER_JS = Path(__file__).with_name("explorer.js")
# the choices, in the order the page offers them; each narrows the next
FIELDS = ("benchmark", "size", "checkpoint", "method", "masks", "replicate")
HEADLINE = (("eval1_accuracy", "accuracy before fine-tuning", ".3f"),
            ("hypothesis_pearson", "r with the hypothesis space", "+.3f"),
            ("mantel_p", "Mantel p", ".4f"),
            ("partial_mantel_r", "partial r (controls)", "+.3f"),
            ("mask_share_mean", "mean FTGD mask share", ".1%"))


def describe(key: dict, config: dict) -> dict[str, str]:
    """A committed space's choices in words, from its manifest's key and config."""
    ftgd, model = key["ftgd"], key["model"]
    replicate = (f"pretraining seed {config['pretrain']['seed']} · data split seed {key['split']['seed']}"
                 f" · FTGD seed {ftgd['seed']}")
    chosen = config["data"].get("benchmarks", ["blimp"])  # a space from before other benchmarks: BLiMP's
    benchmark = " + ".join(TITLES.get(name, Path(name).name) for name in chosen)
    return {"benchmark": benchmark, "size": model["size"], "checkpoint": f"epoch {float(model['epoch']):g}",
            "method": "FTGD" if ftgd["method"] == "ftgd" else "plain fine-tuning",
            "masks": mask_label(FTGDConfig(**{k: v for k, v in config["ftgd"].items()})), "replicate": replicate}


def committed_spaces(config: Config) -> list[Path]:
    """The preset's committed space directories, in name order (none: an empty list)."""
    root = config.reference_dir()
    return sorted(p for p in (root / "spaces").iterdir() if p.is_dir()) if root and (root / "spaces").is_dir() else []


def shown_spaces(config: Config) -> tuple[str, list[Path]]:
    """Where the page's spaces come from, and their directories: ``"committed"`` (the preset's
    committed results), else ``"run store"`` (the planned spaces the run store holds, analysed),
    else ``"none"``. Nothing is trained or computed."""
    committed = committed_spaces(config)
    if committed:
        return "committed", committed
    reader = Reader(config)
    found = (reader.locate(request) for request in plan_of(config).unique())
    stored = list(dict.fromkeys(where for where, origin in filter(None, found) if origin is Origin.RUN_STORE))
    return ("run store", stored) if stored else ("none", [])


def _read_space(directory: Path, config: Config, origin: str) -> tuple[dict, list[str], dict[str, np.ndarray]] | None:
    """A space's record (key, config, headline), paradigms and transfer matrices (metric -> (n, n)).

    Committed: the manifest, and the transfers recomputed from the hash-checked per-pair margins
    (None, with a warning, if damaged). Run store: ``summary.json`` and ``transfer.csv.gz``, as
    :func:`~taskspace_core.analysis.report.write_report` wrote them.
    """
    if origin == "committed":
        space = load_space(directory, config)
        if space is None:  # a damaged directory: load_space has warned, the page shows the rest
            return None
        return json.loads((directory / "manifest.json").read_text()), space.paradigms, space.transfer
    record = json.loads((directory / "summary.json").read_text())
    names = list(record["key"]["paradigms"])
    table = pd.read_csv(directory / "transfer.csv.gz")
    transfer = {metric: rows.pivot(index="source", columns="target", values="value").loc[names, names].to_numpy()
                for metric, rows in table.groupby("metric")}
    return record, names, transfer


def explorer_data(config: Config) -> dict:
    """Everything the page shows, as plain JSON: where the spaces come from, paradigms and
    phenomena in the heatmap's order, and per space its choices, headline numbers, transfer
    matrices (row-major, 4 decimals) and within-phenomenon table."""
    origin, directories = shown_spaces(config)
    spaces = []
    for directory in directories:
        read = _read_space(directory, config, origin)
        if read is None:
            continue
        record, names, transfer = read
        phenomena = [benchmarks.phenomenon_of(p, config.data.taxonomy) for p in names]
        order = plots.phenomenon_order(names, phenomena)
        within = pd.read_csv(directory / "within.csv")[["phenomenon", "n_paradigms", "mean", "std"]].round(3)
        spaces.append({
            "name": directory.name,
            **describe(record["key"], record["config"]),
            # each space its own paradigms, grouped by phenomenon: benchmarks differ in them
            "paradigms": [names[i] for i in order], "phenomena": [phenomena[i] for i in order],
            "similarity": f"{record['config']['space']['similarity']} of {record['config']['space']['metric']} transfers",
            "headline": {label: format(record["headline"][field], spec) for field, label, spec in HEADLINE
                         if record["headline"].get(field) is not None},
            "transfer": {metric: np.round(transfer[metric][np.ix_(order, order)], 4).ravel().tolist()
                         for metric in METRICS},
            # the chapters' colour range (plots.colour_domain), so a space looks the same here and there
            "domain": {metric: list(plots.colour_domain(transfer[metric])) for metric in METRICS},
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
    spaces.sort(key=lambda space: space["benchmark"] != "BLiMP")  # the page opens on BLiMP (a stable sort)
    metrics = [config.space.metric] + [m for m in METRICS if m != config.space.metric]  # the book's first
    if not spaces:
        return {"preset": config.preset, "origin": "none", "fields": list(FIELDS), "metrics": metrics,
                "paradigms": [], "phenomena": [], "spaces": []}
    # the page opens on the space RQ1 reads (the trained model, not its untrained twin), else the first
    opening = _opening_space(config, spaces)
    return {"preset": config.preset, "origin": origin, "fields": list(FIELDS), "metrics": metrics,
            "initial": {field: opening[field] for field in FIELDS},
            "paradigms": opening["paradigms"], "phenomena": opening["phenomena"], "spaces": spaces}


def _opening_space(config: Config, spaces: list[dict]) -> dict:
    """The space RQ1 shows (the preset's ``rq1`` size at its final checkpoint) where the page has it."""
    where = Reader(config).locate(SpaceRequest(Role.FINAL, config.chapter_size("rq1")))
    name = where[0].name if where else None
    return next((space for space in spaces if space["name"] == name), spaces[0])


def explorer_html(config: Config) -> str:
    """The explorer as one HTML block: data, heatmap template and script (drawn by the book's bundle)."""
    data = explorer_data(config)
    preset = html.escape(config.preset)
    if not data["spaces"]:
        return (f'<div id="taskspace-explorer" class="taskspace-explorer" data-preset="{preset}"><p>'
                f"Preset <code>{preset}</code> has no task spaces to explore yet: it has no committed "
                "results, and its run store holds none of the spaces the book plans. Build the book with "
                f"this preset (<code>taskspace book --preset {preset}</code>), which computes them, or "
                f"compute and commit them (<code>taskspace reproduce --preset {preset}</code>).</p></div>")
    # the heatmap is plots.matrix_heatmap's own spec, one per set of paradigms (benchmarks differ):
    # the page swaps in each space's values (layer 0's single data row, field "transfer"), its
    # colour domain (computed here) and its title
    templates = {}
    for space in data["spaces"]:
        n = len(space["paradigms"])
        space["heatmap"] = templates.setdefault(
            "|".join(space["paradigms"]), plots.matrix_heatmap(np.zeros((n, n)), space["paradigms"], space["phenomena"],
                                                               "transfer", value="transfer", size=460).to_dict())
    template = {f"set{k}": spec for k, spec in enumerate(templates.values())}
    index = {key: f"set{k}" for k, key in enumerate(templates)}
    for space in data["spaces"]:
        space["heatmap"] = index["|".join(space["paradigms"])]

    def as_json(value) -> str:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")

    script = EXPLORER_JS.read_text()
    origin = ("" if data["origin"] == "committed" else
              f'<p class="taskspace-explorer-origin">Preset <code>{preset}</code> has no committed results: '
              f'these are the {len(data["spaces"])} task spaces this build computed (its run store).</p>\n')
    return (f'{origin}<div id="taskspace-explorer" class="taskspace-explorer" data-preset="{preset}">'
            f'<p>Loading the explorer…</p></div>\n'
            f'<script type="application/json" id="taskspace-explorer-data">{as_json(data)}</script>\n'
            f'<script type="application/json" id="taskspace-explorer-heatmap">{as_json(template)}</script>\n'
            f'<script>\n{script}\n</script>')
