"""The tables behind the claims chapter, on a constructed body of evidence: each reads the runs it should."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskspace_core.analysis import claims
from taskspace_core.findings import evidence as ev
from taskspace_core.analysis.paper import paper_within_table


def _run(r: float, within: float, union: float = 0.3, share: float = 0.1, similarity=None):
    """A (space, analysis) pair with the few fields the tables read."""
    phenomena = paper_within_table().query("model == 'LM27'").phenomenon
    rng = np.random.default_rng(int(1000 * (r + within)))
    headline = SimpleNamespace(hypothesis_pearson=r, mantel_p=0.001, partial_mantel_r=r - 0.01,
                               partial_mantel_both_r=r - 0.02, mask_share_mean=share)
    table = pd.DataFrame({"mean": within + 0.1 * rng.normal(size=len(phenomena)), "n_paradigms": 3},
                         index=pd.Index(list(phenomena), name="phenomenon"))
    sharing = pd.DataFrame({"mean": [union / 2, union / 4]}, index=["within", "between"])  # mask overlap
    analysis = SimpleNamespace(headline=headline, within=table, similarity=similarity, mask_within_summary=sharing)
    return SimpleNamespace(mask_union_share=union, store_dir=Path(f"space-{r}-{within}")), analysis


def _evidence() -> ev.ReplicatedEvidence:
    rng = np.random.default_rng(0)
    matrices = [(m + m.T) / 2 for m in rng.normal(size=(3, 6, 6))]
    final = {"small": [_run(0.20, 0.10), _run(0.24, 0.12), _run(0.22, 0.11)], "large": [_run(0.30, 0.20)]}
    verdicts = [claims.Verdict("1. x", "", "", "", claims.HOLDS, 1), claims.Verdict("1. x", "", "", "", claims.INCONCLUSIVE, 1),
                claims.Verdict("2. y", "", "", "", claims.INCONCLUSIVE, 2)]
    return ev.ReplicatedEvidence(
        verdicts=verdicts, scopes=["small", "large", "threshold 0.001"], parameters_m={"small": 1.0, "large": 10.0},
        final=final, untrained={"small": _run(0.15, 0.05)}, sparse_final={"small": _run(0.21, 0.09), "large": _run(0.25, 0.15)},
        splits=[final["small"][0], _run(0.2, 0.1)],
        over_training={0.0: _run(0.15, 0.05, union=0.6, similarity=matrices[0]),
                       0.5: _run(0.2, 0.1, union=0.4, similarity=matrices[1]),
                       1.0: _run(0.2, 0.1, union=0.5, similarity=matrices[1])},
        sparse_over_training={0.0: _run(0.1, 0.0, union=0.2), 1.0: _run(0.1, 0.0, union=0.3)},
        dynamics_size="small", split_size="small", masks="threshold 0.001", sparse_masks="top 5%")


def test_summary_names_the_scopes_only_where_verdicts_differ():
    evidence = _evidence()
    assert evidence.summary(1) == "holds (small); inconclusive (large)"
    assert evidence.summary(2) == "inconclusive"
    assert [scope for scope, _ in evidence.claim(1)] == ["small", "large"]


def test_inventory_counts_each_kind_of_space_per_size():
    table = ev.inventory(_evidence())
    assert table.loc["small"].to_dict() == {"parameters (M)": 1.0, "pretraining seeds": 3, "untrained (epoch 0)": 1,
                                                "sparse masks (top 5%)": 1, "data splits": 2,
                                                "checkpoints over training": 3}
    assert table.loc["large", "pretraining seeds"] == 1 and table.loc["large", "data splits"] == 0


def test_hypothesis_table_reads_seeds_and_the_null():
    table = ev.hypothesis_table(_evidence())
    assert table.loc["small", "r trained"] == pytest.approx(0.22)
    assert (table.loc["small", "r min"], table.loc["small", "r max"]) == (0.20, 0.24)
    assert table.loc["small", "trained − untrained"] == pytest.approx(0.07)
    assert np.isnan(table.loc["large", "r untrained"]) and np.isnan(table.loc["large", "trained − untrained"])
    assert table.loc["small", "partial r | lexical + critical"] == pytest.approx(0.20)


def test_size_estimates_hold_both_mask_rules_and_the_paper():
    table = ev.size_estimates(_evidence())
    ours = table[table.source == "ours, threshold 0.001"].set_index("model")
    assert ours.loc["small", "runs"] == 3 and ours.loc["large", "runs"] == 1
    assert ours.loc["small", "min"] <= ours.loc["small", "mean over phenomena"] <= ours.loc["small", "max"]
    assert ours.loc["large", "log10 parameters"] == pytest.approx(7.0)
    assert set(table.source) == {"ours, threshold 0.001", "ours, top 5%", "paper"}
    assert list(table[table.source == "paper"].model) == ["LM27", "LM70", "LM203"]


def test_training_steps_measure_each_change_and_both_unions():
    table = ev.training_steps(_evidence())
    assert np.isnan(table.loc[0.0, "Δ since previous"]) and table.loc[1.0, "Δ since previous"] == pytest.approx(0.0)
    assert table.loc[0.5, "Δ since previous"] > 0
    assert table["union of masks (threshold 0.001)"].tolist() == [0.6, 0.4, 0.5]
    assert table["mask overlap within − between (threshold 0.001)"].tolist() == pytest.approx([0.15, 0.1, 0.125])
    assert table.loc[1.0, "union of masks (top 5%)"] == 0.3 and np.isnan(table.loc[0.5, "union of masks (top 5%)"])


def test_agreement_labels_every_space_by_kind():
    table = ev.agreement(_evidence())
    assert list(table.index) == ["small, seed 0", "small, seed 1", "small, seed 2", "large, seed 0", "small, untrained",
                                 "small, top 5%", "large, top 5%", "small, epoch 0.5"]
    assert table.loc["small, untrained", "kind"] == "untrained" and table.loc["small, epoch 0.5", "kind"] == "over training"
    assert {"LM27", "LM203 (3+ paradigms)"} <= set(table.columns)
    assert table["LM27"].between(-1, 1).all()


def test_replicate_helpers_ask_for_exactly_the_spaces_the_plan_computes():
    from taskspace_core.config import load_preset
    from taskspace_core.plan.requests import plan_of

    asked = []

    def source(request):  # a space source that records what it is asked for
        asked.append(request)
        return request.size, request.changes()

    config = load_preset("cpu")
    plan = plan_of(config)
    planned = {r.identity(config) for r in plan.requests}
    seeds = ev.seed_replicates(plan, source, "medium")
    assert [changes for _, changes in seeds] == [{}, {"pretrain_seed": 1}, {"pretrain_seed": 2}]
    assert ev.seed_replicates(plan, source, "large") == [("large", {})]  # large has no seed replicates in the plan
    assert len(ev.seed_replicates(plan, source, "medium", 0.1)) == 1  # nor has any checkpoint but the final one
    split = config.chapter_size("split")
    assert [changes for _, changes in ev.split_replicates(plan, source)] == [
        {}, {"data_split_seed": 1}, {"data_split_seed": 2}]
    assert ev.split_replicates(plan, source, "large" if split != "large" else "small") == []
    unsplit = plan_of(load_preset("cpu-v1"))  # no data-split replicates in its plan: its one split
    assert unsplit.config.book.split_seeds == () and len(ev.split_replicates(unsplit, source)) == 1
    assert all(request.identity(config) in planned for request in asked[:-1])


def test_spaces_behind_counts_a_space_serving_two_roles_once():
    evidence = _evidence()
    names = [sp.store_dir.name for sp in ev.spaces_behind(evidence)]
    # 14 roles, 8 spaces: small's seed-0 final space (r 0.2, within 0.1) is also both data splits and two
    # checkpoints over training, the untrained one is the first checkpoint, the sparse runs over training coincide
    assert len(names) == len(set(names)) == 8
    assert names[0] == "space-0.2-0.1" and "space-0.15-0.05" in names


def test_verdicts_beside_matches_claim_and_scope_and_marks_changes():
    current = _evidence()
    earlier = _evidence()
    earlier.verdicts = [claims.Verdict("1. x", "", "", "r = 0.1", claims.HOLDS, 1),
                        claims.Verdict("2. y", "", "", "up", claims.FAILS, 2),
                        claims.Verdict("3. z", "", "", "", claims.UNTESTABLE, 3)]
    earlier.scopes = ["small", "threshold 0.001", "threshold 0.001"]
    table = ev.verdicts_beside(current, earlier, names=("cpu", "cpu-v1"))
    assert list(table.columns) == ["claim", "scope", "verdict (cpu)", "verdict (cpu-v1)", "changed", "ours (cpu)",
                                   "ours (cpu-v1)"]
    assert list(zip(table.claim, table.scope)) == [("1", "small"), ("1", "large"), ("2", "threshold 0.001"),
                                                   ("3", "threshold 0.001")]
    assert table["verdict (cpu)"].tolist() == ["holds", "inconclusive", "inconclusive", ""]
    assert table["verdict (cpu-v1)"].tolist() == ["holds", "", "does not hold", "not testable"]
    assert table["ours (cpu-v1)"].iloc[0] == "r = 0.1"
    assert table.changed.tolist() == ["no", "only in cpu", "yes", "only in cpu-v1"]


def test_size_confound_names_each_step_where_the_larger_model_is_the_worse_language_model():
    from taskspace_core.analysis.replicates import Estimate

    falling = {"small": Estimate((4.5, 4.6)), "medium": Estimate((4.4,)), "large": Estimate((4.3,))}
    assert "It falls with size" in ev.size_confound(falling)
    assert "small 4.550 (range 4.500 … 4.600, 2 runs)" in ev.size_confound(falling)
    rising = dict(falling, large=Estimate((4.45,)))  # +0.05 over medium: inside the band of 0.1 that both borrow from small
    text = ev.size_confound(rising)
    assert "At medium → large the difference lies inside the spread" in text and "worse language model" not in text
    tight = {"small": Estimate((4.50, 4.52)), "medium": Estimate((4.40, 4.41)), "large": Estimate((4.45,))}
    text = ev.size_confound(tight)  # bands 0.02 and 0.01; large borrows 0.02; +0.045 is above it
    assert "at medium → large the larger model is the worse language model" in text and "small → medium" not in text
    assert "It falls with size" in ev.size_confound({"small": Estimate((4.6,)), "medium": Estimate((4.5,))})  # no band: means
    assert "worse" in ev.size_confound({"small": Estimate((4.5,)), "medium": Estimate((4.6,))})


def test_validation_losses_are_the_committed_checkpoint_records_over_the_plans_seeds(tmp_path):
    import json

    from taskspace_core.config import load_preset
    from taskspace_core.plan.requests import plan_of

    config = load_preset("cpu", {"work_dir": str(tmp_path)})  # committed records only
    plan = plan_of(config)
    losses = ev.validation_losses(plan)
    assert list(losses) == list(config.sizes)
    for size, loss in losses.items():
        assert len(loss.values) == len(plan.seeds(size))
        finals = [json.loads(p.read_text()) for p in config.reference_dir().glob(f"models/{size}/epoch-*.json")
                  if not p.name.endswith(".blimp.json")]
        assert loss.values[0] == max(finals, key=lambda m: m["step"])["val_loss"]
