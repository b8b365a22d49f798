"""Committed reference results: export, lookup without weights, integrity and completeness."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from taskspace_core.analysis.space import Origin
from taskspace_core.config import apply_overrides, load_preset
from taskspace_core.errors import CorruptResultWarning
from taskspace_core.lm.checkpoints import load_checkpoint_meta, training_curve
from taskspace_core.lm.identity import checkpoint_identity
from taskspace_core.plan.checks import check_results, is_complete, memoise_results
from taskspace_core.plan.requests import plan_of
from taskspace_core.results.read import find_space, load_space


def test_reproduce_exports_every_space_the_book_needs(ci_reference):
    config, problems = ci_reference
    assert problems == []
    root = config.reference_dir()
    spaces = sorted((root / "spaces").iterdir())
    # 2 final + 2 untrained + 1 seed replicate + 1 split replicate + 2 sparse final + plain
    # + 1 earlier checkpoint + 2 sparse over training + 2 thresholds + 2 FTGD seeds (the rest coincide)
    # + Zorro, BLiMP+Zorro and BLiMP→CLAMS, each trained, untrained and on split 1
    assert len(spaces) == len(plan_of(config).unique()) == 25
    index = json.loads((root / "meta.json").read_text())
    # no weights, except the final checkpoint of the sizes the preset ships (book.shipped_sizes), and no optimizer state
    shipped = {f"models/{size}/epoch-1/model.safetensors" for size in config.book.shipped_sizes}
    weights = {name for name in index["files"] if name.endswith((".safetensors", ".bin", ".pt"))}
    assert index["files"] and weights == shipped == {"models/small/epoch-1/model.safetensors"}
    assert {"git_commit", "packages", "config", "blimp_data_hash"} <= set(index)
    # every exported space's Mantel tests are in the committed memo: the book re-runs no permutation
    assert "memo.json" in index["files"] and memoise_results(config) == []


def test_committed_space_equals_the_run_store(ci_reference):
    """The same numbers whichever route: store (full masks) or committed files (summaries)."""
    from taskspace_core.engine.compute import compute_space
    from taskspace_core.lm.pretrain import ensure_checkpoint

    config, _ = ci_reference
    path = ensure_checkpoint(config, "small", train_if_missing=False)
    stored = compute_space(config, path, label="ci-small-epoch-1", log=lambda *_: None, progress=False)
    assert stored.meta["jobs_computed"] == 0  # reproduce computed it
    committed = load_space(find_space(config, checkpoint_identity(load_checkpoint_meta(config, "small"))), config)
    assert committed.origin is Origin.COMMITTED and committed.masks is None
    for metric in stored.transfer:
        assert np.array_equal(stored.transfer[metric], committed.transfer[metric])
        assert np.array_equal(stored.ci_low[metric], committed.ci_low[metric], equal_nan=True)
    assert stored.eval1.equals(committed.eval1)
    assert np.array_equal(stored.mask_overlap, committed.mask_overlap)
    assert stored.mask_share.equals(committed.mask_share)
    assert stored.mask_union_share == committed.mask_union_share
    assert stored.mask_tables.reset_index(drop=True).equals(committed.mask_tables)
    assert np.allclose(stored.finetune_log.objective, committed.finetune_log.objective)


def test_book_finds_results_without_weights(ci_reference, tmp_path):
    from taskspace_core.plan.requests import Role, SpaceRequest
    from taskspace_core.results.read import Reader

    config, _ = ci_reference
    bare = apply_overrides(config, {"work_dir": str(tmp_path)})  # no models, no store
    space, analysis = Reader(bare)(SpaceRequest(Role.DYNAMICS, "large", 0.5))
    assert space.origin is Origin.COMMITTED and analysis.headline.n_paradigms == 8
    assert load_checkpoint_meta(bare, "large", 0.5)["epoch"] == 0.5
    assert training_curve(bare, "small").step.is_monotonic_increasing
    assert not (tmp_path / "ci").exists()  # nothing trained, nothing written
    # another config (a different FTGD learning rate) has another key: the committed space is not used
    other = apply_overrides(bare, {"ftgd.lr": 0.123})
    assert find_space(other, checkpoint_identity(load_checkpoint_meta(other, "large"))) is None


def test_damaged_results_are_reported_and_never_used(ci_reference, tmp_path):
    config, _ = ci_reference
    copy = tmp_path / "results"
    shutil.copytree(config.results_dir, copy)
    damaged = apply_overrides(config, {"results_dir": str(copy)})
    root = damaged.reference_dir()
    space_dir = find_space(damaged, checkpoint_identity(load_checkpoint_meta(damaged, "small")))
    scores = space_dir / "scores.npz"
    scores.write_bytes(scores.read_bytes()[:-10])  # truncated
    (root / "stray.txt").write_text("x")
    (root / "models" / "large" / "epoch-0.5.json").unlink()
    shutil.rmtree(find_space(damaged, checkpoint_identity(load_checkpoint_meta(damaged, "large", 0))))
    problems = [str(p) for p in check_results(damaged)]
    assert any(str(scores) in p and "sha256" in p for p in problems)
    assert any("stray.txt: not listed" in p for p in problems)
    assert any("epoch-0.5.json: missing" in p for p in problems)
    assert any("no task space for large @ epoch 0 [null" in p for p in problems)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_space(space_dir, damaged) is None
    assert any(issubclass(w.category, CorruptResultWarning) for w in caught)


def test_committed_cpu_reference_results_are_complete_and_intact():
    """results/cpu: every size, checkpoint and book space (all 67 paradigms), every hash matching."""
    config = load_preset("cpu")
    assert config.reference_dir().is_dir(), "results/cpu is missing: run `taskspace reproduce --preset cpu`"
    assert check_results(config) == []
    assert is_complete(config)  # so the book executes its pages side by side


def test_committed_results_hold_every_mantel_test_the_book_needs():
    """Rendering from results/cpu runs no permutation test: each committed space's Mantel tests are
    in results/cpu/memo.json, under today's analysis code (an edited test is a miss:
    `taskspace results --preset cpu --fill-memo` refreshes it)."""
    assert memoise_results(load_preset("cpu")) == []


def test_book_space_list_follows_the_presets_book_section():
    config = load_preset("cpu-v1")  # a plan without nulls, replicates or sparse masks (see the next test)
    requests = plan_of(config).unique()
    assert {r.size for r in requests if r.purpose.startswith("RQ3")} == {"small"}
    assert [r.checkpoint for r in requests if r.purpose.startswith("RQ3")] == [0, 0.125, 0.25, 0.5, 1]
    bigger = apply_overrides(config, {"book.dynamics_size": "large"})
    assert {r.size for r in plan_of(bigger).unique() if r.purpose.startswith("RQ3")} == {"large"}
    with pytest.raises(Exception, match="book.sweep_size: unknown size 'huge'"):
        apply_overrides(config, {"book.sweep_size": "huge"})

    def sweep(requests):
        return sorted((r.purpose, tuple(sorted(r.changes().items()))) for r in requests if r.purpose.startswith("critique"))

    assert sweep(requests) == sorted(
        [("critique: threshold sweep", (("ftgd_mask_rule", "threshold"), ("ftgd_threshold", t))) for t in (1e-4, 1e-2)]
        + [("critique: fixed share instead of a threshold", (("ftgd_mask_rule", "top_fraction"), ("ftgd_top_fraction", 0.05)))]
        + [("critique: FTGD seeds", (("ftgd_seed", s),)) for s in (1, 2)])  # 1e-3 and seed 0: the default space
    other = apply_overrides(config, {"book.sweep_thresholds": [1e-3, 3e-3], "book.sweep_seeds": [0, 7],
                                     "book.sweep_top_fraction": 0.1})
    assert sweep(plan_of(other).unique()) == sorted(
        [("critique: threshold sweep", (("ftgd_mask_rule", "threshold"), ("ftgd_threshold", 3e-3)))]
        + [("critique: fixed share instead of a threshold", (("ftgd_mask_rule", "top_fraction"), ("ftgd_top_fraction", 0.1)))]
        + [("critique: FTGD seeds", (("ftgd_seed", 7),))])
    with pytest.raises(Exception, match=r"book.sweep_thresholds: every value must be a finite number >= 0"):
        apply_overrides(config, {"book.sweep_thresholds": [1e-3, -1]})
    with pytest.raises(Exception, match=r"book.sweep_top_fraction: must be a fraction"):
        apply_overrides(config, {"book.sweep_top_fraction": 2})


def test_the_plan_adds_nulls_replicates_and_sparse_masks_evidence_first():
    from taskspace_core.plan.requests import pretraining_runs

    off = {"book.null_baselines": False, "book.replicate_sizes": [], "book.pretrain_seeds": [], "book.split_seeds": [],
           "book.sparse_fraction": 0, "book.dynamics_checkpoints": []}  # the defaults: none of it
    config = apply_overrides(load_preset("cpu"), off)
    assert not any(r.purpose.startswith(("null", "replicates", "sparse")) for r in plan_of(config).unique())
    assert [(run.pretrain.seed, size) for run, size in pretraining_runs(config)] == [(0, s) for s in config.sizes]
    assert load_preset("cpu-v1").book == apply_overrides(load_preset("cpu-v1"), off).book  # cpu-v1 plans none
    plan = apply_overrides(config, {"book.null_baselines": True, "book.replicate_sizes": ["small", "medium"],
                                    "book.pretrain_seeds": [1, 2], "book.replicate_checkpoints": ["final", "0"],
                                    "book.split_seeds": [3], "book.sparse_fraction": 0.05})
    requests = plan_of(plan).unique()
    purposes = [r.purpose for r in requests]
    first = {p: purposes.index(p) for p in dict.fromkeys(purposes)}
    assert list(first)[:5] == ["RQ1/RQ2: final checkpoint of every size", "null: the untrained network",
                               "replicates: pretraining seed", "replicates: data split", "sparse masks: every size"]
    nulls = [(r.size, r.checkpoint) for r in requests if r.purpose.startswith("null")]
    assert nulls == [(s, 0.0) for s in plan.sizes]
    dynamics = [r.checkpoint for r in requests if r.purpose == "RQ3: learning dynamics"]
    assert dynamics == [0.025, 0.05, 0.1, 0.2, 0.35]  # epoch 0 is the null, the final one RQ1's
    replicates = [(r.size, r.checkpoint, r.pretrain_seed) for r in requests if r.purpose == "replicates: pretraining seed"]
    assert len(replicates) == 2 * 2 * 2 and ("medium", "0", 2) in replicates
    assert [r.changes() for r in requests if r.purpose == "replicates: data split"] == [{"data_split_seed": 3}]
    sparse = [r for r in requests if r.purpose.startswith("sparse")]
    assert {r.size for r in sparse if r.purpose.endswith("every size")} == set(plan.sizes)
    assert all(r.changes() == {"ftgd_mask_rule": "top_fraction", "ftgd_top_fraction": 0.05} for r in sparse)
    # the critique's own top-5% space of the sweep size is the sparse one: listed once
    assert not any(r.purpose.startswith("critique: fixed share") for r in requests)
    runs = [(run.pretrain.seed, size) for run, size in pretraining_runs(plan)]
    assert runs == [(0, "small"), (0, "medium"), (0, "large"), (1, "small"), (2, "small"), (1, "medium"), (2, "medium")]
    picked = apply_overrides(plan, {"book.dynamics_checkpoints": [0.5, 0, 0.05]})
    from taskspace_core.lm.checkpoints import dynamics_epochs

    assert dynamics_epochs(picked) == [0, 0.05, 0.5] and dynamics_epochs(plan) == list(plan.pretrain.checkpoints)
    assert [r.checkpoint for r in plan_of(picked).unique() if r.purpose == "RQ3: learning dynamics"] == [0.05]
    assert [r.checkpoint for r in plan_of(picked).unique() if r.purpose == "sparse masks: learning dynamics"] == [0, 0.05]
    with pytest.raises(Exception, match="checkpoint '0.3' is not in pretrain.checkpoints"):
        dynamics_epochs(apply_overrides(plan, {"book.dynamics_checkpoints": [0.3]}))
    with pytest.raises(Exception, match="book.replicate_sizes.huge: unknown size 'huge'"):
        apply_overrides(config, {"book.replicate_sizes": ["huge"]})


def test_the_plan_replicates_rq3s_checkpoints_and_its_masks_and_runs_claims_then_generality_then_sweeps():
    config = load_preset("cpu-next")
    plan = plan_of(config)
    requests = plan.unique()
    purposes = [r.purpose for r in requests]
    generality = [i for i, p in enumerate(purposes) if p.startswith("generality")]
    sweeps = [i for i, p in enumerate(purposes) if p.startswith("critique")]
    claims = [i for i, p in enumerate(purposes) if not p.startswith(("generality", "critique"))]
    assert max(claims) < min(generality) and max(generality) < min(sweeps)
    # generality size by size, the largest first: its trained, untrained and split spaces of every benchmark set
    sizes = [requests[i].size for i in generality]
    assert sizes == sorted(sizes, key=["large", "medium"].index) and sizes.count("large") == 3 * 4
    # claim 3's noise: medium's seeds 1 and 2 at 0 and 5% as well as at the end; the seeds of every size at the end
    seeds = {(r.size, r.checkpoint, r.pretrain_seed) for r in requests if r.purpose == "replicates: pretraining seed"}
    assert {(s, "final", k) for s in config.sizes for k in (1, 2)} | {("medium", e, k) for e in (0, 0.0375)
                                                                      for k in (1, 2)} == seeds
    assert [r.pretrain_seed for r in plan.seeds("medium", 0.0375)] == [None, 1, 2]
    assert len(plan.seeds("medium", 0.15)) == 1  # cut for budget: the preset says so
    # claim 4's bands: the masks alone of seeds 1 and 2 at every RQ3 checkpoint, under both rules
    sets = {(r.checkpoint, r.pretrain_seed, r.masks.label if r.masks else "") for r in plan.mask_sets}
    assert sets == {(e, k, rule) for e in (0, 0.0375, 0.15, 0.75) for k in (1, 2) for rule in ("", "top 5%")}
    assert all(r.purpose == "replicates: pretraining seed, masks only" for r in plan.mask_sets)
    assert not plan_of(load_preset("cpu")).mask_sets  # the presets before it plan none
    with pytest.raises(Exception, match="need the dynamics size 'medium' in book.replicate_sizes"):
        plan_of(apply_overrides(config, {"book.replicate_sizes": ["small"]}))
    # the method control at medium under both rules, last of the claims' evidence
    controls = [(r.size, r.masks.label if r.masks else "") for r in requests if r.purpose.startswith("control")]
    assert controls == [("medium", ""), ("medium", "top 5%")]
    assert max(claims) == purposes.index("control: random masks of FTGD's share") + 1
    with pytest.raises(Exception, match="book.random_mask_sparse needs book.sparse_fraction > 0"):
        plan_of(apply_overrides(config, {"book.sparse_fraction": 0}))
    with pytest.raises(Exception, match="book.sparse_fraction"):
        apply_overrides(config, {"book.sparse_fraction": 1.5})


def test_results_command_reports_and_exits_non_zero_on_problems(ci_reference, tmp_path, capsys):
    from taskspace_core.cli import main

    config, _ = ci_reference
    args = ["results", "--preset", "ci", "--work-dir", config.work_dir]
    n = len(plan_of(config).unique())
    assert main([*args, "--results-dir", config.results_dir]) == 0
    assert f"{n} task spaces expected, {n} committed; complete, every hash matches" in capsys.readouterr().out
    assert main([*args, "--results-dir", str(tmp_path / "nowhere")]) == 1
    out = capsys.readouterr().out
    assert f"{n} task spaces expected, 0 committed;" in out and "run `taskspace reproduce --preset ci`" in out
    assert main([*args, "--results-dir", config.results_dir, "--plan"]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert plan[0] == "the plan of ci (`taskspace reproduce --spaces` takes these numbers; * = committed):"
    assert plan[1] == "   1 * small @ final  [RQ1/RQ2: final checkpoint of every size]"
    assert len(plan) == 2 + n and plan[-1].endswith("complete, every hash matches")


def test_spaces_option_reads_numbers_and_ranges():
    from taskspace_core.cli.commands import _plan_numbers
    from taskspace_core.errors import TaskspaceError

    assert _plan_numbers("10,16, 22-25") == {10, 16, 22, 23, 24, 25}
    with pytest.raises(TaskspaceError, match="--spaces 'ten': use plan numbers such as 10,16,22-25"):
        _plan_numbers("ten")


def test_reproduce_with_nulls_replicates_and_sparse_masks_feeds_the_claims(ci_reference, tmp_path):
    """The plan of the `ci` preset (null baselines, a pretraining-seed and a data-split
    replicate, sparse masks): reproduce pretrained the replicate, computed and exported every
    planned space, and the claims read them without weights."""
    from taskspace_core.analysis import claims
    from taskspace_core.findings.evidence import replicated_claims
    from taskspace_core.plan.requests import plan_of
    from taskspace_core.results.read import Reader

    config, problems = ci_reference
    assert problems == []
    root = config.reference_dir()
    assert (root / "models" / "small-seed1" / "epoch-1.json").is_file()
    assert (root / "models" / "small-seed1" / "train_log.csv").is_file()
    # the book reads them from the committed copy, with no run directory at all, and computes nothing
    bare = apply_overrides(config, {"work_dir": str(tmp_path / "empty")})
    evidence = replicated_claims(plan_of(bare), Reader(bare))
    assert not (tmp_path / "empty" / "ci" / "models").exists()
    assert [len(spaces) for spaces in evidence.final.values()] == [2, 1]  # small has its seed-1 replicate
    assert set(evidence.untrained) == set(evidence.sparse_final) == set(config.sizes) and len(evidence.splits) == 2
    assert [v.number for v in evidence.verdicts] == [1, 1, 2, 2, 3, 4, 4, 4, 4]
    assert [v.primary for v in evidence.verdicts] == [True] * 7 + [False] * 2  # the unions are secondary
    assert evidence.scopes == ["small", "large", "threshold 0.001", "top 5%", "threshold 0.001", "threshold 0.001",
                               "top 5%", "threshold 0.001, union", "top 5%, union"]
    assert all(v.verdict in claims.Status for v in evidence.verdicts)
    assert "top 5%" in evidence.verdicts[3].claim and "2 runs" in evidence.verdicts[2].ours
    assert not np.isnan(evidence.split_noise)


def test_committed_tells_which_planned_spaces_are_in_the_results(ci_reference, tmp_path):
    from taskspace_core.plan.checks import committed

    config, _ = ci_reference
    assert all(committed(config).values()) and len(committed(config)) == len(plan_of(config).unique())
    copy = tmp_path / "results"
    shutil.copytree(config.results_dir, copy)
    partial = apply_overrides(config, {"results_dir": str(copy)})
    shutil.rmtree(find_space(partial, checkpoint_identity(load_checkpoint_meta(partial, "large", 0))))
    missing = [name for name, done in committed(partial).items() if not done]
    assert missing == ["large @ epoch 0"]
    # what the book's build asks before it executes pages side by side (nothing left to compute)
    assert is_complete(config) and not is_complete(partial)
    assert not is_complete(apply_overrides(config, {"results_dir": ""}))


def test_reproduce_computes_only_the_chosen_spaces(ci_reference, tmp_path):
    """`taskspace reproduce --spaces`: a space left out stays missing, a chosen one lands."""
    from taskspace_core.plan.checks import plan_table
    from taskspace_core.plan.reproduce import reproduce

    config, _ = ci_reference
    copy = tmp_path / "results"
    shutil.copytree(config.results_dir, copy)
    partial = apply_overrides(config, {"results_dir": str(copy)})
    shutil.rmtree(find_space(partial, checkpoint_identity(load_checkpoint_meta(partial, "large", 0))))
    plan = plan_table(partial)
    missing = int(plan.index[~plan.committed][0])
    assert plan.loc[missing, "space"] == "large @ epoch 0" and plan.committed.sum() == len(plan) - 1
    others = set(plan.index) - {missing}
    problems = reproduce(partial, log=lambda *_: None, only=others)
    assert len(problems) == 1 and "no task space for large @ epoch 0" in str(problems[0])
    assert problems[0].request.describe() == "large @ epoch 0"  # the missing space, as a typed record
    assert reproduce(partial, log=lambda *_: None, only={missing}) == []  # from the run store: no new fine-tune
    with pytest.raises(Exception, match=rf"spaces 0, {len(plan) + 1}: the plan of ci numbers its spaces 1-{len(plan)}"):
        reproduce(partial, log=lambda *_: None, only={0, missing, len(plan) + 1})


def test_mask_sets_are_reproduced_checked_and_give_claim_4_its_bands(ci_reference, tmp_path):
    """`taskspace reproduce --mask-sets`: the masks alone of the dynamics size's pretraining-seed
    replicates at every RQ3 checkpoint land in ``masks/``, the check counts them, and claim 4
    reads its bands from them where it applies them instead of borrowing one."""
    from taskspace_core.analysis.masks import overlap_within_between
    from taskspace_core.analysis.replicates import Estimate
    from taskspace_core.findings.evidence import replicated_claims
    from taskspace_core.findings.training import mask_replicate_bands
    from taskspace_core.plan.ensure import Ensurer
    from taskspace_core.plan.reproduce import reproduce
    from taskspace_core.results.read import Reader

    config, _ = ci_reference
    copy = tmp_path / "results"
    shutil.copytree(config.results_dir, copy)
    dynamics = config.chapter_size("dynamics")
    masked = apply_overrides(config, {"results_dir": str(copy), "book.mask_replicates": True,
                                      "book.replicate_sizes": sorted({"small", dynamics})})
    plan = plan_of(masked)
    assert len(plan.mask_sets) == 2 * 3  # seed 1 at the three checkpoints, under the threshold and the top 5%
    missing = [p for p in check_results(masked) if p.request in plan.mask_sets]
    assert len(missing) == 6 and "no mask set for" in str(missing[0])
    assert [p for p in reproduce(masked, log=lambda *_: None, only=set(), mask_sets=True) if p.request in plan.mask_sets] == []
    assert len(list((copy / "ci" / "masks").iterdir())) == 6
    again = []  # every mask set committed: nothing is pretrained, even on a machine that has the runs
    assert [p for p in reproduce(masked, log=again.append, only=set(), mask_sets=True) if p.request in plan.mask_sets] == []
    assert sum("already in" in line for line in again) == 6 and not any("pretrained" in line for line in again)
    reader = Reader(masked)
    final = plan.mask_sets[2]  # seed 1's final checkpoint, the preset's rule
    assert (final.checkpoint, final.pretrain_seed, final.masks) == (1.0, 1, None)
    masks = reader.mask_set(final)
    assert masks.masks is None and len(masks.paradigms) == 8  # the committed summaries
    evidence = replicated_claims(plan, Ensurer(masked, log=lambda *_: None, progress_file=None))
    (_, sharing), *_ = [(s, v) for s, v in evidence.claim(4) if v.primary and "top" not in s]
    assert "band not measured" not in sharing.ours and not sharing.marks
    over_training = evidence.over_training
    bands = mask_replicate_bands(plan, reader.mask_set, over_training)
    within, between = overlap_within_between(masks.mask_overlap, masks.phenomena)
    _, seed0 = over_training[1.0]
    by_hand = Estimate((seed0.mask_within_summary.loc["within", "mean"] - seed0.mask_within_summary.loc["between", "mean"],
                        within - between)).band
    assert bands["gap"][1.0] == pytest.approx(by_hand) and not np.isnan(bands["union"][0.0])
    assert f"band {max(bands['gap'][0.0], bands['gap'][1.0]):.3f}" in sharing.ours


def test_a_retrained_run_keeps_its_committed_records(ci_reference, tmp_path):
    """A run directory lost and retrained (another machine): identical weights keep the committed
    records and the longer curve; other weights under the same run are refused, naming the file."""
    from taskspace_core.errors import DataError
    from taskspace_core.lm.identity import models_dir
    from taskspace_core.results.export import export_checkpoints

    config, _ = ci_reference
    copy = tmp_path / "results"
    shutil.copytree(config.results_dir, copy)
    root = copy / "ci"
    records = models_dir(root, config, "small")
    before = {p.name: p.read_text() for p in records.iterdir() if p.is_file()}  # (and the shipped weights' folder)
    curve = records / "train_log.csv"
    curve.write_text(curve.read_text() + curve.read_text().splitlines()[-1] + "\n")  # a longer committed curve
    longer = curve.read_text()
    assert export_checkpoints(config, root, ["small"]) == []
    assert curve.read_text() == longer
    assert all((records / name).read_text() == text for name, text in before.items() if name != "train_log.csv")
    final = records / "epoch-1.json"
    tampered = json.loads(final.read_text())
    tampered["files"]["model.safetensors"] = "0" * 64
    final.write_text(json.dumps(tampered))
    with pytest.raises(DataError, match=r"epoch-1/meta.json: the retrained weights differ .* of model.safetensors"):
        export_checkpoints(config, root, ["small"])


def test_read_only_mode_refuses_to_train_or_fine_tune(tmp_path, monkeypatch):
    """`taskspace book --read-only` (the variable its notebook kernels inherit): every route to
    training or computing a space fails in one line, and a reader names what is missing."""
    from taskspace_core.engine.compute import compute_space
    from taskspace_core.errors import READ_ONLY_VARIABLE, ComputeForbidden, MissingResult
    from taskspace_core.lm.pretrain import pretrain
    from taskspace_core.plan.ensure import Ensurer
    from taskspace_core.plan.requests import Role, SpaceRequest
    from taskspace_core.results.read import Reader

    config = load_preset("ci", {"work_dir": str(tmp_path), "results_dir": str(tmp_path / "results")})
    request = SpaceRequest(Role.FINAL, "small")
    with pytest.raises(MissingResult, match="no checkpoint epoch-1 of size 'small'.*taskspace pretrain --preset ci"):
        Reader(config)(request)
    monkeypatch.setenv(READ_ONLY_VARIABLE, "1")
    with pytest.raises(ComputeForbidden, match="pretraining ci/small"):
        pretrain(config, "small")
    with pytest.raises(ComputeForbidden, match="task space"):
        compute_space(config, tmp_path / "some-model")
    with pytest.raises(ComputeForbidden):
        Ensurer(config, log=lambda *_: None)(request)
    assert not (tmp_path / "ci").exists()


def test_the_cpu_claims_under_the_rules_with_preconditions_and_declared_alternatives():
    """issue 36 on today's committed `cpu` results: claim 2's medium → large step is not judged (the
    large model is the worse language model), claim 3 needs pretraining-seed noise at the early
    checkpoints (not in this plan), and the declared alternatives are marked where they differ."""
    from taskspace_core.analysis import claims
    from taskspace_core.findings.evidence import replicated_claims
    from taskspace_core.results.read import Reader

    config = load_preset("cpu")
    evidence = replicated_claims(plan_of(config), Reader(config))
    by_scope = {(v.number, scope): v for scope, v in zip(evidence.scopes, evidence.verdicts)}
    size_step = by_scope[(2, "threshold 0.001")]
    assert "medium → large not testable (the larger model is not the better language model)" in size_step.marks
    assert "medium → large" not in size_step.value and size_step.verdict is not claims.UNTESTABLE
    assert any(m.startswith("phenomena with ≥ 3 paradigms") for m in by_scope[(2, "top 5%")].marks)
    assert any(m.startswith("coincides with the threshold rule") for m in by_scope[(2, "top 5%")].marks)
    settling = by_scope[(3, "threshold 0.001")]
    assert settling.verdict is claims.UNTESTABLE and "noise not measured at epoch 0, 0.025" in settling.ours
    assert not np.isnan(evidence.seed_noise[0.5]) and np.isnan(evidence.seed_noise[0.025])
    table = claims.settling_table({e: an for e, (_, an) in evidence.over_training.items()}, evidence.seed_noise)
    assert list(table.index) == [0.025, 0.1]  # every choice of "early" before the final checkpoint
    large = by_scope[(1, "large")]
    assert "band borrowed from another size" in large.marks
    assert any(m.startswith("raw symmetrised transfers") for m in large.marks)  # the definition matters at large
    assert {v.verdict.value for v in evidence.verdicts} <= {"holds", "does not hold", "inconclusive", "not testable"}


def test_the_readme_and_methods_count_the_cpu_plans_spaces():
    """The README and the methods chapter say how many task spaces the cpu book needs, and how many
    of them cover BLiMP's 67 paradigms: both are the plan's counts."""
    import re

    from taskspace_core.config import load_preset
    from taskspace_core.paths import REPO_ROOT

    requests = plan_of(load_preset("cpu")).unique()
    on_blimp = sum(r.benchmarks is None for r in requests)
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    methods = " ".join((REPO_ROOT / "book" / "methods.md").read_text().split())
    assert re.search(rf"\b{len(requests)} task spaces: {on_blimp} over all 67 BLiMP paradigms, .* and "
                     rf"{len(requests) - on_blimp} on Zorro and CLAMS", readme)
    assert f"Under `cpu` the book needs {len(requests)} task spaces" in methods
