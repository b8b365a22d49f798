"""The task space of one checkpoint: transfers between all paradigms, with their uncertainty.

    T[p, q] = eval2_p[q] - eval1[q]     (accuracy, margin and effect size)

:func:`compute_space` runs the missing jobs (:mod:`.probing`) through the configured executor
(:mod:`.executors`) and assembles the stored per-pair scores and masks into a
:class:`TaskSpace`. :func:`transfers` turns per-pair margins into the transfer matrices, and
:func:`bootstrap_intervals` into their 95% intervals (computed when first asked for: the book
never shows them, and the bootstrap is the slowest part of loading a space). A space rebuilt
from committed results (:mod:`.results`) goes through the same functions, so both routes give
the same numbers.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm

from ..corpora import blimp
from ..lm.checkpoints import checkpoint_problems
from ..config import Config, to_dict
from ..errors import ConfigError, ModelLoadError
from .executors import run_jobs
from ..lm.models import check_causal_lm, load_tokenizer, resolve_devices
from .probing import ProbeData, open_store, prepare_probe_data
from ..analysis.similarity import mask_jaccard

METRICS = ("accuracy", "margin", "effect")


@dataclass(frozen=True)
class PairMargins:
    """Per test pair, log p(good) - log p(bad): before fine-tuning and after each source's fine-tune.

    Kept in float32 (the precision of the model that produced them), so a space rebuilt from
    committed results is bit-identical to one assembled from the run store.
    """

    eval1: np.ndarray  # (n_pairs,) float32
    eval2: np.ndarray  # (n_sources, n_pairs) float32, rows in paradigm order
    test_paradigm: np.ndarray  # (n_pairs,) int: index of the pair's paradigm
    test_pair_id: np.ndarray  # (n_pairs,) int: BLiMP pairID


@dataclass
class TaskSpace:
    """Transfers between all paradigms of one checkpoint, with mask summaries and uncertainty.

    Everything the analysis needs is here without the full masks: ``masks`` is the
    ``(n, n_parameters)`` boolean array when the space was assembled from a run store, and
    ``None`` when it was loaded from committed reference results (see :mod:`.results`),
    which keep only the summaries (shares, overlaps, union, per-tensor counts).
    """

    paradigms: list[str]
    phenomena: list[str]  # per paradigm, under config.data.taxonomy
    transfer: dict[str, np.ndarray]  # metric -> (n, n): row = fine-tuned source, column = target
    eval1: pd.DataFrame  # per paradigm: accuracy, margin, margin_sd, n_test
    margins: PairMargins  # the per-pair scores every number above is computed from
    mask_share: pd.Series  # per source: share of parameters in its FTGD mask
    mask_overlap: np.ndarray  # (n, n) Jaccard |m_p & m_q| / |m_p | m_q| of the masks
    mask_union_share: float  # share of parameters in at least one mask
    mask_tables: pd.DataFrame  # per source and parameter tensor: layer, component, numel, n_masked
    finetune_log: pd.DataFrame  # per source and step: objective, batch_margin
    store_dir: Path
    masks: np.ndarray | None = None  # (n, n_parameters) bool, when assembled from a run store
    meta: dict = field(default_factory=dict)
    bootstrap: int = 0  # resamples of test pairs behind ci_low/ci_high (config.space.bootstrap) ...
    bootstrap_seed: int = 0  # ... and their seed (config.space.seed)

    @functools.cached_property
    def _intervals(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return bootstrap_intervals(self.margins, len(self.paradigms), self.bootstrap, self.bootstrap_seed)

    @property
    def ci_low(self) -> dict[str, np.ndarray]:
        """metric -> (n, n) lower end of the 95% percentile-bootstrap interval of each transfer (NaN without bootstrap)."""
        return self._intervals[0]

    @property
    def ci_high(self) -> dict[str, np.ndarray]:
        """metric -> (n, n) upper end of the interval."""
        return self._intervals[1]

    def table(self) -> pd.DataFrame:
        """Long form: ``source, target, metric, value, ci_low, ci_high``."""
        n = len(self.paradigms)
        src, tgt = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        frames = [pd.DataFrame({
            "source": np.array(self.paradigms)[src.ravel()],
            "target": np.array(self.paradigms)[tgt.ravel()],
            "metric": metric,
            "value": self.transfer[metric].ravel(),
            "ci_low": self.ci_low[metric].ravel(),
            "ci_high": self.ci_high[metric].ravel(),
        }) for metric in METRICS]
        return pd.concat(frames, ignore_index=True)


def _paired_differences(margins: PairMargins):
    """Per-pair float64 margins before fine-tuning, and the per-pair changes (n_src, n_pairs) of
    each metric's quantity: correctness and margin."""
    margin1, margin2 = margins.eval1.astype(np.float64), margins.eval2.astype(np.float64)
    correct1, correct2 = (margin1 > 0).astype(float), (margin2 > 0).astype(float)
    return margin1, correct1, margin2 - margin1, correct2 - correct1


def _margin_sd(margin1: np.ndarray, cols: np.ndarray) -> float:
    """The sd of one target's margins before fine-tuning: the effect size's unit."""
    sd = margin1[cols].std(ddof=1) if len(cols) > 1 else 0.0
    return max(sd, 1e-8)  # a paradigm whose margins are all equal: effect = margin change / tiny


def _metric_differences(margin1, d_margin, d_correct, cols) -> dict[str, np.ndarray]:
    """metric -> (n_src, n_q): each source's change on the test pairs ``cols`` of one target."""
    sd = _margin_sd(margin1, cols)
    return {"accuracy": d_correct[:, cols], "margin": d_margin[:, cols], "effect": d_margin[:, cols] / sd}


def transfers(names: list[str], margins: PairMargins):
    """eval1 per paradigm, and the transfer matrices, from per-pair margins.

    Returns ``(eval1_table, transfer)``; ``transfer`` maps metric -> (n, n).
    """
    n = len(names)
    margin1, correct1, d_margin, d_correct = _paired_differences(margins)
    transfer = {m: np.zeros((n, n)) for m in METRICS}
    rows = []
    for q in range(n):
        cols = np.flatnonzero(margins.test_paradigm == q)
        rows.append({"paradigm": names[q], "accuracy": correct1[cols].mean(), "margin": margin1[cols].mean(),
                     "margin_sd": _margin_sd(margin1, cols), "n_test": len(cols)})
        for metric, diffs in _metric_differences(margin1, d_margin, d_correct, cols).items():
            transfer[metric][:, q] = diffs.mean(1)
    return pd.DataFrame(rows).set_index("paradigm"), transfer


def bootstrap_intervals(margins: PairMargins, n: int, bootstrap: int, seed: int):
    """95% percentile-bootstrap intervals of every transfer: test pairs of each target resampled
    ``bootstrap`` times (the same resamples for every source, so the rows stay paired).

    Returns ``(ci_low, ci_high)``, each metric -> (n, n); all NaN when ``bootstrap`` is 0.
    """
    margin1, _, d_margin, d_correct = _paired_differences(margins)
    rng = np.random.default_rng(seed)
    low = {m: np.full((n, n), np.nan) for m in METRICS}
    high = {m: np.full((n, n), np.nan) for m in METRICS}
    if not bootstrap:
        return low, high
    for q in range(n):
        cols = np.flatnonzero(margins.test_paradigm == q)
        boot = rng.integers(0, len(cols), size=(bootstrap, len(cols)))
        for metric, diffs in _metric_differences(margin1, d_margin, d_correct, cols).items():
            means = diffs[:, boot].mean(-1)  # (n_src, B): bootstrap means over resampled pairs
            low[metric][:, q], high[metric][:, q] = np.percentile(means, [2.5, 97.5], axis=1)
    return low, high


def assemble(eval1: dict, sources: dict[str, dict], data: ProbeData, config: Config,
             mask_meta: dict[str, dict], store_dir: Path) -> TaskSpace:
    """Turn per-pair eval1/eval2 log-probs and the masks of the run store into a task space."""
    names = data.paradigms
    margins = PairMargins(
        eval1=(eval1["logp_good"] - eval1["logp_bad"]).astype(np.float32),
        eval2=np.stack([sources[p]["logp_good"] - sources[p]["logp_bad"] for p in names]).astype(np.float32),
        test_paradigm=data.test_paradigm, test_pair_id=data.test_pair_id)
    eval1_table, transfer = transfers(names, margins)

    bits = np.stack([np.unpackbits(sources[p]["mask_bits"]) for p in names]).astype(bool)
    masks = bits[:, :mask_meta[names[0]]["n_parameters"]]
    tables = pd.concat([pd.DataFrame(mask_meta[p]["mask_table"]).assign(source=p) for p in names], ignore_index=True)
    logs = pd.concat([pd.DataFrame({"source": p, "step": np.arange(1, len(sources[p]["objective"]) + 1),
                                    "objective": sources[p]["objective"], "batch_margin": sources[p]["batch_margin"]})
                      for p in names], ignore_index=True)
    return TaskSpace(
        paradigms=names,
        phenomena=[blimp.phenomenon_of(p, config.data.taxonomy) for p in names],
        transfer=transfer, eval1=eval1_table, margins=margins,
        mask_share=pd.Series(masks.mean(1), index=names, name="mask_share"),
        mask_overlap=mask_jaccard(masks),
        mask_union_share=float(masks.any(0).mean()),
        mask_tables=tables[["source", "parameter", "layer", "component", "numel", "n_masked"]],
        finetune_log=logs,
        store_dir=store_dir,
        masks=masks,
        bootstrap=config.space.bootstrap,
        bootstrap_seed=config.space.seed,
    )


LOG_EVERY_S = 300.0  # a background run's log: one progress line per five minutes at most


def compute_space(config: Config, model_path: str | Path, revision: str | None = None, label: str | None = None,
                  log: Callable[[str], None] = print, progress: bool = True, progress_file=None) -> TaskSpace:
    """The task space of one model: loads finished jobs from the store and computes the rest.

    ``label`` names the store directory (e.g. ``tiny-large-epoch-1``); the hash after it is the key.
    ``progress_file``: where the progress bar goes (default: tqdm's choice; a notebook passes the
    terminal, so that the bar is not part of the page). Without a bar (``progress=False``, as in
    a background run's log) ``log`` gets a line with the count and an estimate of the time left
    at most every ``LOG_EVERY_S`` seconds, and after the last job.
    """
    label = label or Path(str(model_path)).name
    if not config.space.scheduler:  # a device that is not here fails now, before the store is touched
        resolve_devices(config)  # (on a cluster, workers resolve their own: the client may have no GPU)
    if (Path(str(model_path)) / "meta.json").is_file():  # one of our checkpoints: its files must be intact
        problems = checkpoint_problems(model_path)
        if problems:
            raise ModelLoadError(f"damaged checkpoint: {'; '.join(problems)} (retrain it with `taskspace pretrain`)")
    check_causal_lm(model_path, revision)  # fail before the store is touched, not in the workers
    tokenizer = load_tokenizer(model_path, revision)  # enough to build the key; workers load the model
    data = prepare_probe_data(config, tokenizer)
    if not data.paradigms:
        raise ConfigError("data.paradigms selects no paradigm")
    store = open_store(config, model_path, revision, data, label)
    store.write_manifest(model=str(model_path), revision=revision, config=to_dict(config))

    names = ["eval1"] + [f"source/{p}" for p in data.paradigms]
    loaded = {name: store.load(name) for name in names}  # read (and hash-check) each file once
    jobs = [name.removeprefix("source/") for name in names if loaded[name] is None]
    done_before = len(data.paradigms) + 1 - len(jobs)
    log(f"task space {store.dir}: {done_before} of {len(data.paradigms) + 1} jobs already stored, "
        f"{len(jobs)} to compute ({config.space.executor})")
    started = time.perf_counter()
    bar = _progress(len(jobs), progress, progress_file)

    computed, finished, last_line = [], [], started

    def on_done(job, computed_here):
        nonlocal last_line
        bar.update(1)
        bar.set_postfix_str(job[:32])
        finished.append(job)
        if computed_here:
            computed.append(job)
        now = time.perf_counter()
        if not progress and (now - last_line >= LOG_EVERY_S or len(finished) == len(jobs)):
            left = (now - started) / len(finished) * (len(jobs) - len(finished))
            log(f"  {len(finished)}/{len(jobs)} jobs done ({job}); {(now - started) / 60:.0f} min so far, "
                f"about {left / 60:.0f} min left")
            last_line = now

    try:
        run_jobs(jobs, config, model_path, revision, label, on_done)
    finally:
        bar.close()
    wall = time.perf_counter() - started

    for name in names:
        if loaded[name] is None:  # computed just now
            loaded[name] = store.load(name)
    missing = [k for k, v in loaded.items() if v is None]
    if missing:  # only if a file was corrupted between writing and reading
        raise RuntimeError(f"{store.dir}: results missing after the run: {', '.join(missing[:5])}")
    sources = {p: loaded[f"source/{p}"][0] for p in data.paradigms}
    mask_meta = {p: loaded[f"source/{p}"][1] for p in data.paradigms}
    space = assemble(loaded["eval1"][0], sources, data, config, mask_meta, store.dir)
    space.meta = {
        "key": store.key, "key_hash": store.key_hash, "jobs_computed": len(computed),
        "jobs_reused": len(names) - len(computed), "jobs_by_others": len(jobs) - len(computed),
        "wall_time_s": round(wall, 3),
        "finetune_time_s": {p: m["finetune_time_s"] for p, m in mask_meta.items()},
        "job_time_s": {p: m["wall_time_s"] for p, m in mask_meta.items()},
        "eval1_time_s": loaded["eval1"][1]["wall_time_s"],
        "git_commits": sorted({m["git_commit"] for _, m in loaded.values()}),
    }
    return space


def _progress(total: int, enabled: bool, file=None):
    bar = tqdm if file is None else functools.partial(text_tqdm, file=file)
    return bar(total=total, desc="task space", unit="job", disable=not enabled or total == 0, leave=False)
