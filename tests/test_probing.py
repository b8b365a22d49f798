"""Transfer probing end to end on the `ci` preset: values, caching, resume, executors."""

import dataclasses

import numpy as np
import pytest
from conftest import assert_same_space

from taskspace_core.analysis.report import analyse, layer_density, write_report
from taskspace_core.analysis.space import METRICS
from taskspace_core.config import apply_overrides
from taskspace_core.engine.compute import compute_space
from taskspace_core.engine.probing import evaluate, prepare_probe_data

QUIET = {"log": lambda *_: None, "progress": False}


def test_space_shapes_and_uncertainty(ci_space, ci_config):
    n = len(ci_config.data.paradigms)
    assert ci_space.paradigms == sorted(ci_config.data.paradigms)
    for metric in METRICS:
        t = ci_space.transfer[metric]
        assert t.shape == (n, n) and np.isfinite(t).all()
        inside = (ci_space.ci_low[metric] <= t + 1e-12) & (t <= ci_space.ci_high[metric] + 1e-12)
        assert inside.mean() >= 0.95
    table = ci_space.table()
    assert len(table) == n * n * len(METRICS)
    assert set(table.columns) == {"source", "target", "metric", "value", "ci_low", "ci_high"}
    assert ci_space.masks.shape[0] == n and 0 < ci_space.mask_share.min() <= ci_space.mask_share.max() < 1


def test_transfer_is_eval2_minus_eval1_from_the_stored_files(ci_space):
    """Recompute one cell from the raw per-pair files, independently of assemble()."""
    source, target = "anaphor_number_agreement", "anaphor_gender_agreement"
    e1 = np.load(ci_space.store_dir / "eval1.npz")
    e2 = np.load(ci_space.store_dir / "source" / f"{source}.npz")
    q = ci_space.paradigms.index(target)
    n_test = len(e1["logp_good"]) // len(ci_space.paradigms)
    rows = slice(q * n_test, (q + 1) * n_test)  # test pairs are grouped by paradigm, in order
    margin1 = (e1["logp_good"] - e1["logp_bad"])[rows]  # eval1 keeps both sentences' log-probs
    margin2 = e2["margin"][rows]  # eval2 keeps each pair's margin (scoring.eval2 = "margins")
    acc1, acc2 = np.mean(margin1 > 0), np.mean(margin2 > 0)
    p = ci_space.paradigms.index(source)
    assert ci_space.transfer["accuracy"][p, q] == pytest.approx(acc2 - acc1)
    assert ci_space.transfer["margin"][p, q] == pytest.approx(margin2.mean() - margin1.mean())
    assert ci_space.transfer["effect"][p, q] == pytest.approx((margin2.mean() - margin1.mean()) / margin1.std(ddof=1))
    assert ci_space.eval1.loc[target, "accuracy"] == pytest.approx(acc1)


def test_ftgd_helps_the_tuned_paradigm_on_average(ci_space):
    assert np.mean(np.diag(ci_space.transfer["margin"])) > 0
    assert np.mean(np.diag(ci_space.transfer["accuracy"])) > 0


def test_mask_bookkeeping_is_consistent(ci_space):
    per_source = ci_space.mask_tables.groupby("source").n_masked.sum()
    for i, source in enumerate(ci_space.paradigms):
        assert per_source[source] == ci_space.masks[i].sum()
    density = layer_density(ci_space)
    assert density.density.between(0, 1).all() and set(density.component) >= {"embed", "attn", "mlp"}


def test_identical_config_hits_the_cache_changed_config_misses(ci_space, ci_config, ci_checkpoints):
    again = compute_space(ci_config, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert again.meta["jobs_computed"] == 0 and again.store_dir == ci_space.store_dir
    for metric in METRICS:
        assert np.array_equal(again.transfer[metric], ci_space.transfer[metric])
    # analysis-only fields (space.*) reuse the stored jobs
    other_metric = apply_overrides(ci_config, {"space.metric": "accuracy"})
    assert compute_space(other_metric, ci_checkpoints[-1], label="ci-small-final", **QUIET).meta["jobs_computed"] == 0
    changed = apply_overrides(ci_config, {"ftgd.threshold": 5e-3, "data.paradigms": ci_config.data.paradigms[:2]})
    missed = compute_space(changed, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert missed.store_dir != ci_space.store_dir and missed.meta["jobs_computed"] == 3


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_and_equals_the_uninterrupted_one(ci_space, ci_config, ci_checkpoints, tmp_path):
    import shutil

    copy_config = dataclasses.replace(ci_config, work_dir=str(tmp_path))
    shutil.copytree(ci_space.store_dir, tmp_path / ci_config.preset / "spaces" / ci_space.store_dir.name)
    copied = tmp_path / ci_config.preset / "spaces" / ci_space.store_dir.name
    for name in ci_space.paradigms[::3]:  # as if the run had died before these jobs committed
        (copied / "source" / f"{name}.json").unlink()
    (copied / "source" / f"{ci_space.paradigms[1]}.npz").write_bytes(b"torn write")  # and one torn file
    with pytest.warns(UserWarning, match="corrupt"):
        resumed = compute_space(copy_config, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert resumed.meta["jobs_computed"] == len(ci_space.paradigms[::3]) + 1
    for metric in METRICS:
        assert np.array_equal(resumed.transfer[metric], ci_space.transfer[metric])
    assert np.array_equal(resumed.masks, ci_space.masks)


def test_local_processes_give_the_serial_result(ci_space_one_thread, ci_config, ci_checkpoints, tmp_path):
    # Both sides run one torch thread per job, so float reductions round alike and the
    # comparison is exact (at different thread counts the `effect` metric, a margin over an
    # sd, amplifies rounding differences past any fixed atol).
    parallel = apply_overrides(ci_config, {"work_dir": str(tmp_path), "space.executor": "processes",
                                           "space.workers": 2, "space.threads": 1})
    result = compute_space(parallel, ci_checkpoints[-1], label="ci-small-final", **QUIET)
    assert result.meta["jobs_computed"] == len(ci_space_one_thread.paradigms) + 1
    assert_same_space(result, ci_space_one_thread)


def test_analysis_and_report_files(ci_space, ci_config):
    analysis = analyse(ci_space, ci_config)
    n = len(ci_space.paradigms)
    for matrix in (analysis.similarity, analysis.mask_overlap, analysis.lexical, analysis.critical, analysis.hypothesis):
        assert matrix.shape == (n, n) and np.allclose(matrix, matrix.T)
    assert {"A-AGR", "DN-AGR", "NPI-L", "SV-AGR"} == set(analysis.within.index)
    # the directional variant pools two values a pair: same phenomena and pairs, its own means
    directional = analysis.directional_within
    assert list(directional.index) == list(analysis.within.index)
    assert directional.n_pairs.tolist() == analysis.within.n_pairs.tolist()
    assert list(analysis.within_summary.index) == ["within", "between"]
    assert list(analysis.within_table().index) == [*analysis.within.index, "within", "between"]
    h = analysis.headline
    assert 0 < h.mask_share_mean <= h.mask_union_share <= 1
    assert 0 < h.mantel_p <= 1 and -1 <= h.hypothesis_pearson <= 1
    assert 0 < h.partial_mantel_both_p <= 1 and -1 <= h.partial_mantel_both_r <= 1
    paths = write_report(ci_space, analysis, ci_config)
    import json

    summary = json.loads(paths["summary.json"].read_text())
    assert summary["key_hash"] == ci_space.meta["key_hash"] and summary["git_commit"]
    assert summary["key"]["model"]["pretrain_hash"] and summary["key"]["data_hash"]
    import pandas as pd

    assert len(pd.read_csv(paths["transfer.csv.gz"])) == n * n * 3


@pytest.mark.slow
def test_packed_and_one_length_evaluation_agree(ci_config, ci_model):
    """scoring.pack_pairs only changes how the work is batched, not the scores."""
    model, tokenizer = ci_model
    data = prepare_probe_data(ci_config, tokenizer)
    packed = evaluate(model, data, ci_config)
    plain = evaluate(model, data, apply_overrides(ci_config, {"scoring.pack_pairs": False}))
    for key in ("logp_good", "logp_bad"):
        np.testing.assert_allclose(packed[key], plain[key], rtol=0, atol=1e-5)


def test_a_run_without_a_progress_bar_logs_its_progress(ci_space, ci_config, ci_checkpoints, tmp_path, monkeypatch):
    """A background run's log (``progress=False``) says how far a space has come and how long is
    left, throttled to one line per ``LOG_EVERY_S`` and always after the last job."""
    import shutil

    from taskspace_core.engine import compute as task_space

    config = apply_overrides(ci_config, {"work_dir": str(tmp_path)})
    store = tmp_path / "ci" / "spaces" / ci_space.store_dir.name
    shutil.copytree(ci_space.store_dir, store)
    for every_s, expected in ((1e9, ["2/2"]), (0.0, ["1/2", "2/2"])):
        for job in sorted((store / "source").glob("*.json"))[:2]:  # forget two finished jobs
            job.unlink()
        monkeypatch.setattr(task_space, "LOG_EVERY_S", every_s)
        lines = []
        compute_space(config, ci_checkpoints[-1], label="ci-small-final", log=lines.append, progress=False)
        progress = [line for line in lines if "jobs done" in line]
        assert [line.split()[0] for line in progress] == expected, lines
        assert "min left" in progress[-1]
