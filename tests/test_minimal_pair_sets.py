"""Benchmarks beyond BLiMP: Zorro, CLAMS English and a set of your own, through one registry."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from taskspace_core.config import DataConfig, apply_overrides
from taskspace_core.corpora import benchmarks, blimp, clams, zorro
from taskspace_core.errors import ConfigError, DataError

ZORRO_STEM = "agreement_subject_verb-in_simple_question"


def test_zorro_loads_23_paradigms_normalised_to_book_prose():
    loaded = benchmarks.load_pairs(DataConfig(benchmarks=("zorro",)))
    assert len(loaded) == 23 and {len(p.pairs) for p in loaded.values()} == {2000}
    pair = loaded["zorro:binding-principle_a"].pairs[0]
    # file line 1 is the ungrammatical sentence, line 2 its grammatical partner
    assert (pair.bad, pair.good) == ("Ben thinks about himself called this fuel.", "Ben thinks about himself calling this fuel.")
    assert zorro.normalise("where are i going ?") == "Where are I going?"
    mapped = {zorro.PHENOMENON[name.removeprefix("zorro:")] for name in loaded}
    assert mapped - set(zorro.NEW_PHENOMENA) == set(blimp.PHENOMENA) - {"CON-R"}  # 11 of BLiMP's 12


def test_clams_drops_the_corrupted_npi_pairs_and_keeps_the_rest():
    loaded = benchmarks.load_pairs(DataConfig(benchmarks=("clams",)))
    assert len(loaded) == 22
    assert sum(len(p.pairs) for p in loaded.values()) == 157_346 - 738
    assert len(loaded["clams:npi_across_inanim"].pairs) == 5040 - 720
    assert not any(clams.CORRUPTED in p.good + p.bad for par in loaded.values() for p in par.pairs)
    assert loaded["clams:simple_agrmt"].pairs[0].good == "The author laughs."


def test_a_changed_benchmark_file_fails_its_checksum_and_a_bad_line_names_itself(tmp_path):
    text = gzip.decompress((zorro.ZORRO_DIR / f"{ZORRO_STEM}.txt.gz").read_bytes()).decode()
    lines = text.split("\n")
    lines[6] = "is the dog eat ?"
    (tmp_path / "SHA256SUMS").write_text((zorro.ZORRO_DIR / "SHA256SUMS").read_text())
    (tmp_path / f"{ZORRO_STEM}.txt").write_text("\n".join(lines))
    with pytest.raises(DataError, match=rf"{ZORRO_STEM}.txt: sha256 does not match SHA256SUMS"):
        zorro.read_zorro_paradigm(tmp_path / f"{ZORRO_STEM}.txt")
    (tmp_path / "SHA256SUMS").unlink()
    (tmp_path / f"{ZORRO_STEM}.txt").write_text("\n".join(lines[:4] + ["", "is the dog eating ?"]) + "\n")
    with pytest.raises(DataError, match=r"line 5: an empty sentence"):
        zorro.read_zorro_paradigm(tmp_path / f"{ZORRO_STEM}.txt")
    (tmp_path / "sent_comp.txt").write_text("True\tthe author laughs\nTrue\tthe author laugh")
    with pytest.raises(DataError, match=r"sent_comp.txt, line 2: expected 'False<TAB>sentence'"):
        clams.read_clams_paradigm(tmp_path / "sent_comp.txt")


def own_set(folder, paradigms: dict[str, str], n: int = 30):
    """A set of your own in the documented format, made of BLiMP's pairs (``n`` per paradigm)."""
    folder.mkdir()
    (folder / "phenomena.json").write_text(json.dumps({f"my_{uid}": label for uid, label in paradigms.items()}))
    for uid in paradigms:
        source = blimp.load_blimp(None, [uid])[uid]
        rows = [{"sentence_good": p.good, "sentence_bad": p.bad} for p in source.pairs[:n]]
        (folder / f"my_{uid}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_a_set_of_your_own_joins_the_phenomena_of_blimp(tmp_path):
    folder = own_set(tmp_path / "mine", {"anaphor_gender_agreement": "A-AGR", "npi_present_1": "NPI-L"})
    data = DataConfig(benchmarks=("blimp", str(folder)), phenomena=("A-AGR",))
    assert benchmarks.selected_paradigms(data) == ["anaphor_gender_agreement", "anaphor_number_agreement",
                                                   "mine:my_anaphor_gender_agreement"]
    loaded = benchmarks.load_pairs(data)
    assert loaded["mine:my_anaphor_gender_agreement"].pairs[3].pair_id == 3  # position when no pairID
    assert benchmarks.phenomenon_of("mine:my_npi_present_1") == "NPI-L"


@pytest.mark.parametrize("line, needle", [
    ("{\"sentence_good\": \"A cat.\"}", "line 2: field 'sentence_bad': must be a non-empty string"),
    ("{\"sentence_good\": \"A cat.\", \"sentence_bad\": \"Cat a.\", \"pairID\": -1}", "line 2: field 'pairID'"),
    ("not json", "line 2: not valid JSON"),
])
def test_a_bad_line_of_your_own_set_names_file_line_and_field(tmp_path, line, needle):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "phenomena.json").write_text('{"p": "X"}')
    (folder / "p.jsonl").write_text('{"sentence_good": "A dog.", "sentence_bad": "Dog a."}\n' + line + "\n")
    with pytest.raises(DataError, match=rf"p.jsonl, {needle}"):
        benchmarks.load_pairs(DataConfig(benchmarks=(str(folder),)))


def test_unknown_benchmarks_and_paradigms_fail_by_name(tmp_path):
    with pytest.raises(ConfigError, match=r"'zoro' is neither .* \(did you mean 'zorro'\?\)"):
        benchmarks.selected_paradigms(DataConfig(benchmarks=("zoro",)))
    with pytest.raises(ConfigError, match=r"unknown paradigm 'zorro:binding-principle_a' \(data.benchmarks is blimp\)"):
        benchmarks.selected_paradigms(DataConfig(paradigms=("zorro:binding-principle_a",)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty/phenomena.json: missing"):
        benchmarks.selected_paradigms(DataConfig(benchmarks=(str(tmp_path / "empty"),)))


def test_a_space_key_records_the_benchmarks_and_blimp_keys_stay(ci_config):
    from taskspace_core.results.keys import probe_selection

    blimp_only, blimp_hash = probe_selection(ci_config)
    assert blimp_only == sorted(ci_config.data.paradigms)
    mixed = apply_overrides(ci_config, {"data.benchmarks": "blimp,zorro",
                                        "data.paradigms": [*ci_config.data.paradigms, "zorro:binding-principle_a"]})
    names, mixed_hash = probe_selection(mixed)
    assert names == sorted([*blimp_only, "zorro:binding-principle_a"]) and mixed_hash != blimp_hash
    # the data hash of BLiMP alone is what it was before other benchmarks existed
    from taskspace_core.corpora.pairs import data_hash
    assert blimp_hash == data_hash(blimp.load_blimp(None, blimp_only))


def test_your_own_set_runs_through_score_and_space(ci_config, ci_checkpoints, tmp_path):
    """The documented format, end to end: `score` and a task space over BLiMP and the set."""
    from taskspace_core.engine.blimp_scores import score_model
    from taskspace_core.engine.compute import compute_space

    folder = own_set(tmp_path / "mine", {"anaphor_number_agreement": "A-AGR", "npi_present_1": "NPI-L"})
    config = apply_overrides(ci_config, {
        "work_dir": str(tmp_path / "runs"), "data.benchmarks": f"blimp,{folder}", "data.n_test": 10,
        "data.n_train": 16, "data.paradigms": ["anaphor_gender_agreement", "npi_present_1",
                                               "mine:my_anaphor_number_agreement", "mine:my_npi_present_1"]})
    scores, meta = score_model(config, ci_checkpoints[-1], tmp_path / "scores.csv")
    assert set(scores.paradigm) == set(config.data.paradigms) and len(scores) == 40
    assert meta["benchmarks"] == ["blimp", str(folder)]
    assert pd.read_csv(tmp_path / "scores.csv").phenomenon.tolist().count("A-AGR") == 20
    space = compute_space(config, ci_checkpoints[-1], label="own-set", log=lambda *_: None, progress=False)
    assert space.paradigms == sorted(config.data.paradigms)
    assert space.phenomena == ["A-AGR", "A-AGR", "NPI-L", "NPI-L"]  # sorted: BLiMP, mine:, BLiMP
    assert np.isfinite(space.transfer["effect"]).all() and space.transfer["effect"].shape == (4, 4)


@pytest.mark.parametrize("trained, p, untrained, status", [
    ((0.20, 0.22, 0.21), (0.001,) * 3, (0.05,), "holds"),  # +0.16 against a band of 0.02
    ((0.20, 0.22, 0.21), (0.001, 0.2, 0.001), (0.05,), "does not hold"),  # one split not significant
    ((0.06, 0.10, 0.08), (0.01,) * 3, (0.05,), "inconclusive"),  # +0.03 inside a band of 0.04
    ((0.06, 0.10, 0.08), (0.01,) * 3, (0.20,), "does not hold"),  # below −band
    ((0.20,), (0.001,), (0.05,), "not testable"),  # one split: no band
    ((0.20, 0.22), (0.001,) * 2, (), "not testable"),  # no untrained space
])
def test_the_generality_rule_reads_the_untrained_network_against_the_split_band(trained, p, untrained, status):
    from taskspace_core.analysis.generality import structure_reappears
    from taskspace_core.analysis.replicates import Estimate

    assert structure_reappears(Estimate(trained), Estimate(p), Estimate(untrained)).value == status


def test_the_cross_gap_sees_same_phenomenon_transfer_across_benchmarks_and_nothing_else():
    from taskspace_core.analysis.generality import cross_gap

    blimp_names = ["anaphor_gender_agreement", "anaphor_number_agreement", "npi_present_1", "only_npi_licensor_present"]
    zorro_names = ["zorro:anaphor_agreement-pronoun_gender", "zorro:npi_licensing-matrix_question",
                   "zorro:npi_licensing-only_npi_licensor"]
    names = blimp_names + zorro_names
    labels = np.array([benchmarks.phenomenon_of(n) for n in names])
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (7, 7))
    shared = (labels[:, None] == labels[None, :]) * 0.5 + (noise + noise.T) / 2
    found = cross_gap(shared, names, permutations=999)
    # cross pairs: 4 x 3 = 12, of one phenomenon 2 x 1 + 2 x 2 = 6
    assert (found.n_same, found.n_different) == (6, 6) and found.gap == pytest.approx(0.5, abs=0.02)
    assert found.p < 0.05
    # structure inside each benchmark only (what templates alone would give): no cross gap
    bench = np.array([n.startswith("zorro:") for n in names])
    within_only = shared * (bench[:, None] == bench[None, :])
    assert abs(cross_gap(within_only, names, permutations=999).gap) < 0.02
    # a control that explains the similarity leaves no gap
    assert abs(cross_gap(shared, names, permutations=99, controls=[shared]).gap) < 1e-9


def test_the_transfer_gap_reads_only_the_directed_block_from_blimp_to_clams():
    """G3: a transfer matrix (row fine-tuned on, column evaluated on) whose BLiMP rows move CLAMS's
    same-phenomenon columns; the reverse block, with no such structure, is not read."""
    from taskspace_core.analysis.generality import cross_gap

    blimp_names = ["anaphor_gender_agreement", "npi_present_1", "regular_plural_subject_verb_agreement_1"]
    clams_names = ["clams:simple_reflexives", "clams:reflexives_across", "clams:simple_npi_anim", "clams:simple_agrmt"]
    names = blimp_names + clams_names
    labels = np.array([benchmarks.phenomenon_of(n) for n in names])
    assert list(labels) == ["A-AGR", "NPI-L", "SV-AGR", "A-AGR", "A-AGR", "NPI-L", "SV-AGR"]
    transfer = np.random.default_rng(1).normal(0, 0.01, (7, 7))
    transfer[:3, 3:] += (labels[:3, None] == labels[None, 3:]) * 0.3  # BLiMP -> CLAMS, same phenomenon
    forward = cross_gap(transfer, names, permutations=999, direction=("blimp", "clams"))
    assert (forward.n_same, forward.n_different) == (4, 8) and forward.gap == pytest.approx(0.3, abs=0.02)
    assert forward.p < 0.05
    backward = cross_gap(transfer, names, permutations=999, direction=("clams", "blimp"))
    assert backward.n_same + backward.n_different == 12 and abs(backward.gap) < 0.02


def test_the_generality_section_reads_zorros_committed_spaces():
    """cpu's plan has Zorro's space of the medium model, trained, untrained and on two more splits:
    the section's numbers are those spaces' stored headline numbers, read by rule G1."""
    from taskspace_core.book.notebook import book_plan
    from taskspace_core.config import load_preset
    from taskspace_core.findings.generality import benchmark_accuracy, benchmark_verdicts
    from taskspace_core.plan.requests import Role

    plan, source = book_plan(load_preset("cpu"))
    manifests = {r.split_seed or 0: json.loads((source(r)[0].store_dir / "manifest.json").read_text())["headline"]
                 for r in plan.find(Role.BENCHMARK, "medium", "final") + plan.find(Role.BENCHMARK_SPLIT, "medium")
                 if r.benchmarks == ("zorro",)}
    row = benchmark_verdicts(plan, source).iloc[0]
    r = [manifests[s]["hypothesis_pearson"] for s in (0, 1, 2)]
    assert (row.benchmark, row.paradigms, row.splits) == ("Zorro", 23, 3)
    assert row.trained == pytest.approx(np.mean(r)) and row.band == pytest.approx(max(r) - min(r))
    assert row.verdict in ("holds", "does not hold", "inconclusive", "not testable")
    accuracy = benchmark_accuracy(plan, source, "zorro", "medium")
    assert accuracy.loc["mean over paradigms", "trained"] == pytest.approx(manifests[0]["eval1_accuracy"])
    assert len(accuracy) == 24 and set(accuracy.phenomenon[:-1]) >= {"SV-AGR", "CASE", "AUX-V"}


def committed_benchmark_row(rule: str, benchmarks: tuple[str, ...]):
    """cpu's plan, the book's verdict row of ``rule``, and the committed ``(space, analysis)`` of
    the medium model's trained spaces on ``benchmarks`` (the final checkpoint and the other splits)."""
    from taskspace_core.book.notebook import book_plan
    from taskspace_core.config import load_preset
    from taskspace_core.findings.generality import benchmark_verdicts
    from taskspace_core.plan.requests import Role

    plan, source = book_plan(load_preset("cpu"))
    rows = benchmark_verdicts(plan, source)
    trained = [r for r in plan.find(Role.BENCHMARK, "medium", "final") + plan.find(Role.BENCHMARK_SPLIT, "medium")
               if r.benchmarks == benchmarks]
    return plan, rows[rows.rule == rule].iloc[0], [source(r) for r in trained]


def test_the_template_check_reads_the_committed_blimp_to_clams_spaces():
    """cpu's plan has the BLiMP→CLAMS space of the medium model (rule G3): 15 BLiMP and 18 CLAMS
    paradigms (the four CLAMS files shorter than the split are left out), trained, untrained and on
    two more splits; the row's statistic is the transfer gap of those committed spaces."""
    from taskspace_core.analysis.generality import cross_gap

    plan, row, runs = committed_benchmark_row("G3", ("blimp", "clams"))
    assert (row.benchmark, row.paradigms, row.splits) == ("BLiMP → CLAMS English", 33, 3)
    spaces = [space for space, _ in runs]
    assert len(spaces) == 3 and all(sum(p.startswith("clams:") for p in s.paradigms) == 18 for s in spaces)
    assert "clams:simple_agrmt" not in spaces[0].paradigms
    gaps = [cross_gap(s.transfer[plan.config.space.metric], s.paradigms, permutations=0,
                      direction=("blimp", "clams")).gap for s in spaces]
    assert row.trained == pytest.approx(np.mean(gaps)) and row.band == pytest.approx(max(gaps) - min(gaps))
    assert row.verdict in ("holds", "does not hold", "inconclusive", "not testable")


def test_the_generality_text_names_each_rules_statistic_verdict_and_the_rules_left_out():
    """One paragraph per verdict row, each with its own statistic's name (a negative gap reads as a
    value, not as "more ... by -0.012"), the verdict word and its meaning under that rule; a plan
    without a rule gets a line naming the entry that would compute it."""
    import pandas as pd

    from taskspace_core.config import load_preset
    from taskspace_core.findings.generality import ENTRY_OF_RULE, generality_text, meaning
    from taskspace_core.plan.requests import BenchmarkSet, plan_of

    base = {"size": "medium", "splits": 3, "p (largest)": 0.8, "control": -0.02, "untrained": 0.02, "band": 0.01}
    rows = pd.DataFrame([
        base | {"benchmark": BenchmarkSet.parse("zorro").title, "rule": "G1", "paradigms": 23, "trained": 0.13,
                "difference": 0.11, "verdict": "holds"},
        base | {"benchmark": BenchmarkSet.parse("blimp>clams").title, "rule": "G3", "paradigms": 33,
                "trained": -0.012, "difference": -0.032, "verdict": "does not hold"}])
    plan = plan_of(load_preset("ci"))  # plans all three rules: nothing is left out
    paragraphs = generality_text(rows, plan).split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("On Zorro (23 paradigms)") and "r = +0.130" in paragraphs[0]
    assert "From BLiMP to CLAMS English" in paragraphs[1] and "the transfer gap" in paragraphs[1]
    assert "is -0.012" in paragraphs[1] and "by -0.012" not in paragraphs[1]
    for paragraph, (rule, verdict) in zip(paragraphs, [("G1", "holds"), ("G3", "does not hold")], strict=True):
        assert f"rule {rule}: **{verdict}**; {meaning(rule, verdict)}." in paragraph
    assert meaning("G1", "inconclusive") == meaning("G3", "inconclusive")
    # a plan with only G1 and G3 says that G2 is missing and which entry computes it
    without_g2 = plan_of(apply_overrides(load_preset("cpu"), {"book.benchmark_spaces": ["zorro", "blimp>clams"]}))
    left_out = generality_text(rows, without_g2).split("\n\n")[-1]
    assert "rule G2" in left_out and f"`{ENTRY_OF_RULE['G2']}`" in left_out and "rule G3" not in left_out
    assert "computes no space on another benchmark" in generality_text(rows.iloc[:0], plan_of(load_preset("tiny")))


def test_the_cross_benchmark_test_reads_the_committed_blimp_and_zorro_spaces():
    """cpu's plan has the BLiMP ∪ Zorro space of the medium model (rule G2): 67 + 23 paradigms,
    trained, untrained and on two more splits; the row's statistic is the cross gap of the trained
    spaces' similarity matrices (same-phenomenon pairs across the two benchmarks minus the others)."""
    from taskspace_core.analysis.generality import cross_gap

    _, row, runs = committed_benchmark_row("G2", ("blimp", "zorro"))
    assert (row.benchmark, row.paradigms, row.splits) == ("BLiMP + Zorro", 90, 3)
    assert len(runs) == 3 and all(sum(p.startswith("zorro:") for p in s.paradigms) == 23 for s, _ in runs)
    gaps = [cross_gap(analysis.similarity, space.paradigms, permutations=0).gap for space, analysis in runs]
    assert row.trained == pytest.approx(np.mean(gaps)) and row.band == pytest.approx(max(gaps) - min(gaps))
    assert row.verdict in ("holds", "does not hold", "inconclusive", "not testable")
