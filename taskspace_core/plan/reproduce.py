"""Reproducing a preset's reference results: every planned space computed and exported, resumably.

``taskspace reproduce --preset cpu`` runs :func:`reproduce`: pretraining each run when a space
first needs it, computing each planned space into the run store, and exporting each space and
checkpoint record into ``results/<preset>/`` as it lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from ..config import Config
from ..engine.compute import compute_masks, compute_space
from ..errors import ConfigError
from ..lm.checkpoints import checkpoint_epoch
from ..lm.identity import checkpoint_name, models_dir, run_name
from ..lm.pretrain import ensure_checkpoint, pretrain
from ..lm.shipped import shipped_dir
from ..results.export import export_checkpoints, export_masks, export_space, write_index
from ..results.keys import space_label
from ..results.weights import ship_weights
from .checks import Problem, check_results, committed_masks, committed_space
from .requests import plan_of, pretraining_runs


def reproduce(config: Config, log: Callable[[str], None] = print,
              only: Collection[int] | None = None, mask_sets: bool | None = None) -> list[Problem]:
    """Compute every planned space (:func:`~.requests.plan_of`) in plan order, pretraining each run when a space
    first needs it, and export every space and run as it completes.

    Everything resumes: finished checkpoints and store jobs are reused, and a space already in
    the committed results is not recomputed (nor is its model retrained). Pretraining a
    replicate waits until its first space is due, and a run goes only as far as the checkpoint
    that space needs, so an interrupted run has the claims' evidence in plan order. ``only``
    (plan numbers, from 1, as :func:`plan_table` lists them) computes just those spaces: on a
    machine without the run directory, the spaces of one model can go together. The plan's mask
    sets (every paradigm's FTGD mask alone, exported under ``masks/``) follow the spaces when
    everything is asked for; ``mask_sets`` True computes them with ``only``, False never. Returns
    :func:`check_results`' problems (empty when the committed results are complete).
    """
    root = config.reference_dir()
    if root is None:
        raise ConfigError("results_dir is empty: there is nowhere to export the reference results")
    plan = plan_of(config)
    requests = plan.unique()
    unknown = sorted(set(only or ()) - set(range(1, len(requests) + 1)))
    if unknown:
        raise ConfigError(f"spaces {', '.join(map(str, unknown))}: the plan of {config.preset} numbers its "
                          f"spaces 1-{len(requests)} (`taskspace results --preset {config.preset} --plan` lists them)")
    started = time.perf_counter()
    reached: dict[str, float] = {}  # run name -> the latest checkpoint this call made sure of

    def ensure_pretrained(run: Config, size: str, epoch: float) -> None:  # resumes, exports, indexes
        name = run_name(run, size)
        if reached.get(name, -1.0) < epoch:
            t = time.perf_counter()
            final = epoch >= max(run.pretrain.checkpoints)
            pretrain(run, size, log=log, until_epoch=None if final else epoch)
            log(f"[{_clock(started)}] pretrained {name} to {'the end' if final else f'epoch {epoch:g}'} "
                f"({time.perf_counter() - t:.0f}s this run)")
            export_checkpoints(run, root, [size])
            write_index(config, root)
            reached[name] = epoch

    for i, request in enumerate(requests, 1):
        if only is not None and i not in only:
            continue
        if committed_space(config, request) is not None:
            log(f"[{_clock(started)}] {i}/{len(requests)} {request.describe()}: already in {root}")
            continue
        sub = request.config(config)
        ensure_pretrained(sub, request.size, checkpoint_epoch(sub, request.checkpoint))
        t = time.perf_counter()
        log(f"[{_clock(started)}] {i}/{len(requests)} {request.describe()} [{request.purpose}]: computing")
        path = ensure_checkpoint(sub, request.size, request.checkpoint, log=log)
        space = compute_space(sub, path, label=space_label(sub, request.size, path), log=log, progress=False)
        target = export_space(space, sub, root)
        write_index(config, root)
        log(f"[{_clock(started)}] {i}/{len(requests)} done in {time.perf_counter() - t:.0f}s -> {target}")
    with_mask_sets = only is None if mask_sets is None else mask_sets  # with everything, unless asked
    if with_mask_sets:
        _reproduce_mask_sets(config, plan.mask_sets, ensure_pretrained, log, started)
    if only is None:
        for run, size in pretraining_runs(config):  # a run no missing space needed still belongs in the results
            committed = models_dir(root, run, size)
            if not (committed / "train_log.csv").is_file() or any(
                    not (committed / f"{checkpoint_name(e)}.json").is_file() for e in run.pretrain.checkpoints):
                ensure_pretrained(run, size, max(run.pretrain.checkpoints))
        for size in config.book.shipped_sizes:  # weights for the exercises, with their model card
            if shipped_dir(config, size, checkpoint_epoch(config, "final")) is None:
                ensure_pretrained(config, size, max(config.pretrain.checkpoints))
                log(f"[{_clock(started)}] shipped the weights of {size} -> {ship_weights(config, root, size)}")
    write_index(config, root)
    return check_results(config)


def _reproduce_mask_sets(config: Config, requests, ensure_pretrained, log, started: float) -> None:
    """Compute and export each planned mask set not committed yet (pretraining its run as far as
    its checkpoint first, through ``ensure_pretrained``); a committed one trains nothing."""
    root = config.reference_dir()
    for i, request in enumerate(requests, 1):
        where = f"[{_clock(started)}] mask set {i}/{len(requests)} {request.describe()}"
        if committed_masks(config, request) is not None:  # before pretraining: a committed set needs no model
            log(f"{where}: already in {root}")
            continue
        sub = request.config(config)
        ensure_pretrained(sub, request.size, checkpoint_epoch(sub, request.checkpoint))
        t = time.perf_counter()
        log(f"{where} [{request.purpose}]: computing")
        path = ensure_checkpoint(sub, request.size, request.checkpoint, log=log)
        target = export_masks(compute_masks(sub, path, label=space_label(sub, request.size, path), log=log,
                                            progress=False), sub, root)
        write_index(config, root)
        log(f"[{_clock(started)}] mask set {i}/{len(requests)} done in {time.perf_counter() - t:.0f}s -> {target}")


def _clock(started: float) -> str:
    seconds = int(time.perf_counter() - started)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


