"""Checking committed results: complete (every planned space and checkpoint) and intact (every hash).

    check_results    every problem with a preset's committed results, as :class:`Problem` records
    memoise_results  the committed spaces whose Mantel tests the committed memo lacks (or fill them in)
    committed        which planned spaces are committed, and where
    mask_table       the plan's mask sets, and which are committed
    plan_table       the plan, numbered as ``reproduce --spaces`` takes it, and how far it has come
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analysis.memo import MEMO_FILE, Memo
from ..analysis.report import analyse
from ..config import Config
from ..lm.checkpoints import checkpoint_epoch, expected_pretrain_hash, find_checkpoint_meta, trained_here
from ..lm.identity import checkpoint_identity, checkpoint_name, models_dir
from ..lm.shipped import shipped_dir
from ..provenance import sha256_file
from ..results.export import INDEX, write_index
from ..results.keys import probe_selection
from ..results.read import find_masks, find_space, load_masks, load_space, read_space
from .requests import SpaceRequest, plan_of, pretraining_runs


@dataclass(frozen=True)
class Problem:
    """One thing wrong with committed results: where, and what. ``request`` is the planned space
    that is missing, when that is the problem (``reproduce --spaces`` leaves some out on purpose)."""

    path: Path | None
    message: str
    request: SpaceRequest | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def committed_space(config: Config, request: SpaceRequest) -> Path | None:
    """The directory of ``request``'s space in the committed results, or None when it (or the
    checkpoint it belongs to) has not been exported yet."""
    sub = request.config(config)
    meta = find_checkpoint_meta(sub, request.size, request.checkpoint)
    return find_space(sub, checkpoint_identity(meta)) if meta is not None else None


def committed_masks(config: Config, request: SpaceRequest) -> Path | None:
    """The directory of ``request``'s mask set in the committed results, or None."""
    sub = request.config(config)
    meta = find_checkpoint_meta(sub, request.size, request.checkpoint)
    return find_masks(sub, checkpoint_identity(meta)) if meta is not None else None


def mask_table(config: Config) -> pd.DataFrame:
    """The plan's mask sets (``taskspace reproduce --mask-sets``): one row per mask set with its
    purpose and whether it is in the committed results."""
    rows = [{"mask set": request.describe(), "purpose": request.purpose,
             "committed": committed_masks(config, request) is not None} for request in plan_of(config).mask_sets]
    return pd.DataFrame(rows, columns=["mask set", "purpose", "committed"], index=pd.RangeIndex(1, len(rows) + 1, name="#"))


def committed(config: Config) -> dict[str, bool]:
    """Each planned space (by its description) -> whether it is in the committed results: how
    far an interrupted ``reproduce`` has come."""
    plan = plan_table(config)
    return dict(zip(plan.space, plan.committed))


def plan_table(config: Config) -> pd.DataFrame:
    """The plan, numbered as ``taskspace reproduce --spaces`` takes it: one row per planned space
    with its purpose and whether it is in the committed results."""
    rows = [{"space": request.describe(), "purpose": request.purpose,
             "committed": committed_space(config, request) is not None} for request in plan_of(config).unique()]
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="#"))


def _checkpoint_records(root: Path, config: Config) -> list[tuple[Config, str, Path]]:
    """Where under ``root`` each checkpoint record (``<checkpoint>.json``) of each of
    ``config``'s pretraining runs belongs, as (run config, size, path), whether or not it is there."""
    return [(run, size, models_dir(root, run, size) / f"{checkpoint_name(epoch)}.json")
            for run, size in pretraining_runs(config) for epoch in run.pretrain.checkpoints]


def is_complete(config: Config) -> bool:
    """Whether ``config``'s committed results hold every piece the plan reads: each pretraining
    run's checkpoint records, each planned space and mask set. Presence only, no hashing (0.2 s
    once the corpus hash and the benchmark pairs are cached; the first call loads them: 6.7 s
    measured beside a running reference run);
    :func:`check_results` also verifies every hash and shape."""
    root = config.reference_dir()
    if root is None or not (root / INDEX).is_file():
        return False
    plan = plan_of(config)
    return (all(path.is_file() for _, _, path in _checkpoint_records(root, config))
            and all(committed_space(config, request) is not None for request in plan.unique())
            and all(committed_masks(config, request) is not None for request in plan.mask_sets))


def check_results(config: Config) -> list[Problem]:
    """Every problem with ``config``'s committed results: missing pieces and broken hashes.

    Complete means: every :func:`~.requests.pretraining_runs` run's every checkpoint (``meta.json``) and
    training curve, and every planned space with all of this config's paradigms. Consistent means: every file
    matches the sha256 in ``meta.json`` (and nothing unlisted is there), every space's manifest
    hashes its key to its directory name and its files to their digests, and every checkpoint
    was trained under this config.
    """
    root = config.reference_dir()
    if root is None or not (root / INDEX).is_file():
        return [Problem(root, f"no {INDEX}; run `taskspace reproduce --preset {config.preset}`")]
    problems = []
    index = json.loads((root / INDEX).read_text())
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != INDEX}
    for name in sorted(present - set(index["files"])):
        problems.append(Problem(root / name, f"not listed in {INDEX}"))
    for name, digest in index["files"].items():
        if name not in present:
            problems.append(Problem(root / name, f"listed in {INDEX} but missing"))
        elif sha256_file(root / name) != digest:
            problems.append(Problem(root / name, f"sha256 does not match {INDEX}"))
    paradigms, data_hash = probe_selection(config)
    if index.get("blimp_data_hash") != data_hash:
        problems.append(Problem(root / INDEX, f"BLiMP data hash {index.get('blimp_data_hash')} is not the shipped "
                        f"data's {data_hash}"))
    for run, size, path in _checkpoint_records(root, config):
        if not path.is_file():
            problems.append(Problem(path, "missing"))
        elif not trained_here(json.loads(path.read_text()), run, size):
            problems.append(Problem(path, f"trained under another config or training code version "
                            f"(pretrain hash is not {expected_pretrain_hash(run, size)})"))
    for run, size in pretraining_runs(config):
        curve = models_dir(root, run, size) / "train_log.csv"
        if not curve.is_file():
            problems.append(Problem(curve, "missing"))
    final = checkpoint_name(checkpoint_epoch(config, "final"))
    for size in config.book.shipped_sizes:
        if shipped_dir(config, size, checkpoint_epoch(config, "final")) is None:
            problems.append(Problem(models_dir(root, config, size) / final, "the shipped weights are missing "
                                    "(book.shipped_sizes); `taskspace reproduce` ships them"))
    for request in plan_of(config).unique():
        sub = request.config(config)
        meta_path = models_dir(root, sub, request.size) / f"{checkpoint_name(checkpoint_epoch(config, request.checkpoint))}.json"
        if not meta_path.is_file():
            continue  # reported above
        found = find_space(sub, checkpoint_identity(json.loads(meta_path.read_text())))
        if found is None:
            problems.append(Problem(root / "spaces", f"no task space for {request.describe()} [{request.purpose}]",
                                    request))
            continue
        try:
            manifest, arrays = read_space(found)
            names, n_pairs = [str(p) for p in arrays["paradigms"]], arrays["eval2_margin"].shape
        except (OSError, ValueError, KeyError) as exc:
            problems.append(Problem(found, str(exc)))
            continue
        expected = paradigms if request.benchmarks is None else probe_selection(sub)[0]  # another benchmark's own
        if names != expected or manifest["key"]["paradigms"] != expected:
            problems.append(Problem(found, f"holds {len(names)} paradigms, expected all {len(expected)}"))
        elif n_pairs != (len(expected), sub.data.n_test * len(expected)):
            problems.append(Problem(found, f"eval2 has shape {n_pairs}, expected "
                            f"({len(expected)}, {sub.data.n_test * len(expected)})"))
    for request in plan_of(config).mask_sets:
        found = committed_masks(config, request)
        if found is None:
            problems.append(Problem(root / "masks", f"no mask set for {request.describe()} [{request.purpose}]", request))
        elif load_masks(found, config) is None:
            problems.append(Problem(found, "fails its hashes"))
    return problems


def memoise_results(config: Config, fill: bool = False) -> list[Problem]:
    """The committed spaces whose Mantel tests are not in the committed memo (``memo.json``, see
    memo.py), so that rendering them would re-run the permutations. With ``fill``, compute the
    missing ones into the memo and rewrite the index instead (minutes, no model needed)."""
    root = config.reference_dir()
    if root is None or not (root / "spaces").is_dir():
        return []
    missing = []
    for request in plan_of(config).unique():
        sub, found = request.config(config), committed_space(config, request)
        space = load_space(found, sub) if found is not None else None
        if space is None:
            continue  # check_results reports it
        memo = Memo([] if fill else [root / MEMO_FILE], root / MEMO_FILE if fill else None, strict=not fill)
        try:
            analyse(space, sub, memo)
        except KeyError:
            missing.append(Problem(found, f"its Mantel tests are not in {root / MEMO_FILE} "
                                          f"(`taskspace results --preset {config.preset} --fill-memo`)"))
    if fill:
        write_index(config, root)
    return missing

