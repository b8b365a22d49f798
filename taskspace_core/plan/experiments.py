"""The book's experiment plan: which task spaces each chapter needs, computing them, checking them.

    book_spaces      every task space the chapters show under a preset (sizes, checkpoints, sweeps)
    null_sizes       the sizes whose untrained space the plan computes
    committed        which planned spaces are in the committed results
    reproduce        compute every planned space in order, pretraining runs as they are needed; export as they land
    plan_table       the plan, numbered (what `reproduce --spaces` takes) and how far it has come
    check_results    what is missing or broken in a preset's committed results
    memoise_results  the committed memo of every committed space's Mantel tests: check or fill it
    space_costs      the measured wall time of every stored space
    run_stages       a preset's measured cost per stage (pretraining each size, each space)
    preset_overview  one row per preset: sizes, epochs, checkpoints, paradigms, pairs

The plan is the preset's ``book`` section (:class:`~taskspace_core.config.BookConfig`): which size
each chapter studies and what the critique sweeps. The notebooks read the same section, so the
plan and the book cannot drift apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..lm.pretrain import ensure_checkpoint
from ..lm.checkpoints import (
    checkpoint_epoch, dynamics_epochs, expected_pretrain_hash, find_checkpoint_meta, trained_here,
)
from ..config import PRESETS, Config, apply_overrides, load_preset, parameter_overrides, stable_hash
from ..errors import ConfigError
from ..lm.identity import checkpoint_identity
from ..lm.models import spec_parameters
from ..lm.identity import checkpoint_name, models_dir, run_name
from ..lm.pretrain import pretrain
from ..engine.probing import probe_selection
from ..provenance import sha256_file
from ..analysis.memo import MEMO_FILE, Memo
from ..analysis.report import analyse
from ..results.committed import (
    INDEX, export_checkpoints, export_space, find_space, find_stored_space, load_space, read_space, space_label,
    write_index,
)
from ..engine.compute import compute_space


# --------------------------------------------------------------------------- what the book needs


@dataclass(frozen=True)
class SpaceRequest:
    """One task space a chapter asks for: a size, a checkpoint and notebook-style changes."""

    size: str
    checkpoint: str | float = "final"
    changes: dict = field(default_factory=dict)  # e.g. {"ftgd_method": "plain"}
    purpose: str = ""

    def config(self, config: Config) -> Config:
        return apply_overrides(config, parameter_overrides(**self.changes)) if self.changes else config

    def describe(self) -> str:
        changes = ", ".join(f"{k}={v}" for k, v in self.changes.items())
        where = self.checkpoint if str(self.checkpoint) == "final" else f"epoch {float(self.checkpoint):g}"
        return f"{self.size} @ {where}" + (f" ({changes})" if changes else "")


def book_spaces(config: Config) -> list[SpaceRequest]:
    """Every task space the book's chapters compute under ``config``, the claims' evidence first
    (so an interrupted :func:`reproduce` has computed what matters most).

    The plan is the preset's ``book`` section (sizes per chapter, the critique's sweeps, null
    baselines, replicates, sparse masks), which the notebooks read too, so this list and the
    book cannot drift apart. Duplicates (e.g. threshold 1e-3 is the default space) appear once.
    """
    plan, sweep, dynamics = config.book, config.chapter_size("sweep"), config.chapter_size("dynamics")
    epochs = dynamics_epochs(config)
    sparse = {"ftgd_mask_rule": "top_fraction", "ftgd_top_fraction": plan.sparse_fraction}
    requests = [SpaceRequest(s, "final", {}, "RQ1/RQ2: final checkpoint of every size") for s in config.sizes]
    if plan.null_baselines:
        requests += [SpaceRequest(s, 0.0, {}, "null: the untrained network") for s in config.sizes]
    requests += [SpaceRequest(s, checkpoint, {"pretrain_seed": seed}, "replicates: pretraining seed")
                 for s in plan.replicate_sizes for seed in plan.pretrain_seeds for checkpoint in plan.replicate_checkpoints]
    requests += [SpaceRequest(config.chapter_size("split"), "final", {"data_split_seed": seed}, "replicates: data split")
                 for seed in plan.split_seeds]
    if plan.sparse_fraction:
        requests += [SpaceRequest(s, "final", sparse, "sparse masks: every size") for s in config.sizes]
    requests.append(SpaceRequest(config.chapter_size("baseline"), "final", {"ftgd_method": "plain"},
                                 "RQ1: plain fine-tuning baseline"))
    requests += [SpaceRequest(dynamics, e, {}, "RQ3: learning dynamics") for e in epochs]
    if plan.sparse_fraction:
        requests += [SpaceRequest(dynamics, e, sparse, "sparse masks: learning dynamics") for e in epochs]
    requests += [SpaceRequest(sweep, "final", {"ftgd_mask_rule": "threshold", "ftgd_threshold": t},
                              "critique: threshold sweep") for t in plan.sweep_thresholds]
    requests.append(SpaceRequest(sweep, "final", {"ftgd_mask_rule": "top_fraction",
                                                  "ftgd_top_fraction": plan.sweep_top_fraction},
                                 "critique: fixed share instead of a threshold"))
    requests += [SpaceRequest(sweep, "final", {"ftgd_seed": s}, "critique: FTGD seeds") for s in plan.sweep_seeds]
    unique, seen = [], set()
    for r in requests:
        identity = (r.size, checkpoint_epoch(config, r.checkpoint), stable_hash(r.config(config)))
        if identity not in seen:
            seen.add(identity)
            unique.append(r)
    return unique


def stored_space(config: Config, request: SpaceRequest) -> Path | None:
    """The run store's directory of ``request``'s space, when it was computed and analysed there
    (by ``taskspace book`` or ``taskspace space``), or None; nothing is trained or computed."""
    sub = request.config(config)
    meta = find_checkpoint_meta(sub, request.size, request.checkpoint)
    return find_stored_space(sub, checkpoint_identity(meta)) if meta is not None else None


def committed(config: Config) -> dict[str, bool]:
    """Each planned space (:func:`book_spaces`, by its description) -> whether it is in the
    committed results: how far an interrupted ``reproduce`` has come."""
    plan = plan_table(config)
    return dict(zip(plan.space, plan.committed))


def committed_space(config: Config, request: SpaceRequest) -> Path | None:
    """The directory of ``request``'s space in the committed results, or None when it (or the
    checkpoint it belongs to) has not been exported yet."""
    sub = request.config(config)
    meta = find_checkpoint_meta(sub, request.size, request.checkpoint)
    return find_space(sub, checkpoint_identity(meta)) if meta is not None else None


def null_sizes(config: Config) -> list[str]:
    """The sizes whose untrained (epoch-0) space the plan computes: every size with
    ``book.null_baselines``, else the dynamics size when RQ3 starts at initialisation."""
    if config.book.null_baselines:
        return list(config.sizes)
    return [config.chapter_size("dynamics")] if 0 in dynamics_epochs(config) else []


def pretraining_runs(config: Config) -> list[tuple[Config, str]]:
    """Every pretraining run the plan needs, as ``(config, size)``: each size at the preset's
    seed, then the pretraining-seed replicates (``book.replicate_sizes`` x ``book.pretrain_seeds``)."""
    runs = [(config, size) for size in config.sizes]
    for size in config.book.replicate_sizes:
        runs += [(apply_overrides(config, {"pretrain.seed": seed}), size) for seed in config.book.pretrain_seeds]
    return runs


# --------------------------------------------------------------------------- checking


def check_results(config: Config) -> list[str]:
    """Every problem with ``config``'s committed results: missing pieces and broken hashes.

    Complete means: every :func:`pretraining_runs` run's every checkpoint (``meta.json``) and
    training curve, and every :func:`book_spaces` space with all of this config's paradigms. Consistent means: every file
    matches the sha256 in ``meta.json`` (and nothing unlisted is there), every space's manifest
    hashes its key to its directory name and its files to their digests, and every checkpoint
    was trained under this config.
    """
    root = config.reference_dir()
    if root is None or not (root / INDEX).is_file():
        return [f"{root}: no {INDEX}; run `taskspace reproduce --preset {config.preset}`"]
    problems = []
    index = json.loads((root / INDEX).read_text())
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != INDEX}
    for name in sorted(present - set(index["files"])):
        problems.append(f"{root / name}: not listed in {INDEX}")
    for name, digest in index["files"].items():
        if name not in present:
            problems.append(f"{root / name}: listed in {INDEX} but missing")
        elif sha256_file(root / name) != digest:
            problems.append(f"{root / name}: sha256 does not match {INDEX}")
    paradigms, data_hash = probe_selection(config)
    if index.get("blimp_data_hash") != data_hash:
        problems.append(f"{root / INDEX}: BLiMP data hash {index.get('blimp_data_hash')} is not the shipped "
                        f"data's {data_hash}")
    for run, size in pretraining_runs(config):
        committed = models_dir(root, run, size)
        for epoch in run.pretrain.checkpoints:
            path = committed / f"{checkpoint_name(epoch)}.json"
            if not path.is_file():
                problems.append(f"{path}: missing")
            elif not trained_here(json.loads(path.read_text()), run, size):
                problems.append(f"{path}: trained under another config or training code version "
                                f"(pretrain hash is not {expected_pretrain_hash(run, size)})")
        if not (committed / "train_log.csv").is_file():
            problems.append(f"{committed / 'train_log.csv'}: missing")
    for request in book_spaces(config):
        sub = request.config(config)
        meta_path = models_dir(root, sub, request.size) / f"{checkpoint_name(checkpoint_epoch(config, request.checkpoint))}.json"
        if not meta_path.is_file():
            continue  # reported above
        found = find_space(sub, checkpoint_identity(json.loads(meta_path.read_text())))
        if found is None:
            problems.append(f"{root / 'spaces'}: no task space for {request.describe()} [{request.purpose}]")
            continue
        try:
            manifest, arrays = read_space(found)
            names, n_pairs = [str(p) for p in arrays["paradigms"]], arrays["eval2_margin"].shape
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{found}: {exc}")
            continue
        if names != paradigms or manifest["key"]["paradigms"] != paradigms:
            problems.append(f"{found}: holds {len(names)} paradigms, expected all {len(paradigms)}")
        elif n_pairs != (len(paradigms), config.data.n_test * len(paradigms)):
            problems.append(f"{found}: eval2 has shape {n_pairs}, expected "
                            f"({len(paradigms)}, {config.data.n_test * len(paradigms)})")
    return problems


def memoise_results(config: Config, fill: bool = False) -> list[str]:
    """The committed spaces whose Mantel tests are not in the committed memo (``memo.json``, see
    memo.py), so that rendering them would re-run the permutations. With ``fill``, compute the
    missing ones into the memo and rewrite the index instead (minutes, no model needed)."""
    root = config.reference_dir()
    if root is None or not (root / "spaces").is_dir():
        return []
    missing = []
    for request in book_spaces(config):
        sub, found = request.config(config), committed_space(config, request)
        space = load_space(found, sub) if found is not None else None
        if space is None:
            continue  # check_results reports it
        memo = Memo([] if fill else [root / MEMO_FILE], root / MEMO_FILE if fill else None, strict=not fill)
        try:
            analyse(space, sub, memo)
        except KeyError:
            missing.append(f"{found}: its Mantel tests are not in {root / MEMO_FILE} "
                           f"(`taskspace results --preset {config.preset} --fill-memo`)")
    if fill:
        write_index(config, root)
    return missing


# --------------------------------------------------------------------------- the whole run


def reproduce(config: Config, log: Callable[[str], None] = print,
              only: Collection[int] | None = None) -> list[str]:
    """Compute every :func:`book_spaces` space in plan order, pretraining each run when a space
    first needs it, and export every space and run as it completes.

    Everything resumes: finished checkpoints and store jobs are reused, and a space already in
    the committed results is not recomputed (nor is its model retrained). Pretraining a
    replicate waits until its first space is due, and a run goes only as far as the checkpoint
    that space needs, so an interrupted run has the claims' evidence in plan order. ``only``
    (plan numbers, from 1, as :func:`plan_table` lists them) computes just those spaces: on a
    machine without the run directory, the spaces of one model can go together. Returns
    :func:`check_results`' problems (empty when the committed results are complete).
    """
    root = config.reference_dir()
    if root is None:
        raise ConfigError("results_dir is empty: there is nowhere to export the reference results")
    requests = book_spaces(config)
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
    if only is None:
        for run, size in pretraining_runs(config):  # a run no missing space needed still belongs in the results
            committed = models_dir(root, run, size)
            if not (committed / "train_log.csv").is_file() or any(
                    not (committed / f"{checkpoint_name(e)}.json").is_file() for e in run.pretrain.checkpoints):
                ensure_pretrained(run, size, max(run.pretrain.checkpoints))
    write_index(config, root)
    return check_results(config)


def plan_table(config: Config) -> pd.DataFrame:
    """The plan, numbered as ``taskspace reproduce --spaces`` takes it: one row per
    :func:`book_spaces` space with its purpose and whether it is in the committed results."""
    rows = [{"space": request.describe(), "purpose": request.purpose,
             "committed": committed_space(config, request) is not None} for request in book_spaces(config)]
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="#"))


def _clock(started: float) -> str:
    seconds = int(time.perf_counter() - started)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def space_costs(config: Config) -> pd.DataFrame:
    """Wall time of every stored task space of ``config.preset``: committed results and the run store.

    One row per space: where it is, its paradigms and method, fine-tune and eval2 seconds per
    paradigm, and the job time summed over all jobs (with ``space.workers`` worker processes
    running jobs side by side, the elapsed time is about that sum divided by the workers).
    """
    manifests = []
    root = config.reference_dir()
    if root is not None:
        manifests += [("committed", p) for p in sorted((root / "spaces").glob("*/manifest.json"))]
    manifests += [("run store", p) for p in sorted((config.run_dir() / "spaces").glob("*/summary.json"))]
    rows, seen = [], set()
    for where, path in manifests:
        record = json.loads(path.read_text())
        if path.parent.name in seen:  # the same key in both places: the committed copy is listed
            continue
        seen.add(path.parent.name)
        run = record.get("run", {})
        jobs, fine = run.get("job_time_s", {}), run.get("finetune_time_s", {})
        rows.append({
            "store": path.parent.name, "where": where, "paradigms": len(record["key"]["paradigms"]),
            "method": record["config"]["ftgd"]["method"],
            "fine-tune s/paradigm": sum(fine.values()) / max(len(fine), 1),
            "eval2 s/paradigm": (sum(jobs.values()) - sum(fine.values())) / max(len(jobs), 1),
            "summed job time (min)": (sum(jobs.values()) + run.get("eval1_time_s", 0)) / 60,
            "workers": record["config"]["space"]["workers"] if record["config"]["space"]["executor"] == "processes" else 1,
        })
    return pd.DataFrame(rows, columns=["store", "where", "paradigms", "method", "fine-tune s/paradigm", "eval2 s/paradigm",
                                       "summed job time (min)", "workers"])


def run_stages(config: Config) -> pd.DataFrame:
    """What ``config``'s run has cost so far, one row per stage: each pretraining run (from its
    final checkpoint's ``meta.json``; replicates included) and computing each stored space (:func:`space_costs`, its
    summed job time divided by the workers that ran side by side). Columns: stage, minutes, detail.
    A committed space of the plan is named as the plan names it (``small @ final (ftgd_seed=1)``)
    and listed in the plan's order; any other stored space by its store directory, after them."""
    stages = []
    for run, size in pretraining_runs(config):
        meta = find_checkpoint_meta(run, size, "final")
        if meta:
            stages.append({"stage": f"pretrain {run_name(run, size)}", "minutes": meta["wall_time_s"] / 60,
                           "detail": f"{meta['tokens_seen'] / 1e6:.2f}M tokens, validation perplexity {meta['val_ppl']:.1f}"})
    planned = {}  # store directory -> (position in the plan, description)
    for position, request in enumerate(book_spaces(config)):
        found = committed_space(config, request)
        if found is not None:
            planned.setdefault(found.name, (position, request.describe()))
    spaces = []
    for _, row in space_costs(config).iterrows():
        position, name = planned.get(row["store"], (len(planned), row["store"]))
        spaces.append((position, {"stage": name, "minutes": row["summed job time (min)"] / row["workers"],
                                  "detail": f"{row['method']}, {row['where']}; per paradigm: fine-tune "
                                            f"{row['fine-tune s/paradigm']:.1f} s, eval2 {row['eval2 s/paradigm']:.1f} s"}))
    stages += [stage for _, stage in sorted(spaces, key=lambda item: item[0])]
    return pd.DataFrame(stages, columns=["stage", "minutes", "detail"])


def preset_overview(names: tuple[str, ...] = PRESETS) -> pd.DataFrame:
    """One row per shipped preset: its sizes (millions of parameters), epochs, checkpoints, how many
    paradigms it covers and its test / train pairs per paradigm."""
    rows = []
    for name in names:
        pc = load_preset(name)
        rows.append({"preset": name, "sizes (M parameters)": ", ".join(
            f"{s} {spec_parameters(sp, pc.tokenizer.vocab_size) / 1e6:.2f}" for s, sp in pc.sizes.items()),
            "epochs": pc.pretrain.epochs, "checkpoints": ", ".join(f"{e:g}" for e in pc.pretrain.checkpoints),
            "paradigms": len(pc.data.paradigms) or 67, "test / train pairs": f"{pc.data.n_test} / {pc.data.n_train}"})
    return pd.DataFrame(rows).set_index("preset")
