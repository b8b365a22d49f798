"""The explorer page's data: every committed space of a preset, reachable by its choices."""

import json

import numpy as np
import pytest

from taskspace_core.book.explorer import FIELDS, committed_spaces, explorer_data, explorer_html
from taskspace_core.config import load_preset
from taskspace_core.results.read import load_space


@pytest.fixture(scope="module")
def cpu():
    return load_preset("cpu")


@pytest.fixture(scope="module")
def data(cpu):
    return explorer_data(cpu)


def test_every_committed_space_is_one_distinct_choice(cpu, data):
    assert len(data["spaces"]) == len(committed_spaces(cpu))
    choices = [tuple(space[f] for f in FIELDS) for space in data["spaces"]]
    assert len(set(choices)) == len(choices)
    methods = {space["method"] for space in data["spaces"]}
    assert methods == {"FTGD", "plain fine-tuning"}
    assert data["metrics"][0] == cpu.space.metric  # the page opens on the book's metric
    # no two spaces read the same in the menus (the random-mask control names itself, not its key)
    assert not any(" · key " in space["replicate"] for space in data["spaces"])
    assert any(space["masks"].startswith("random, at the share of threshold") for space in data["spaces"])


def test_the_page_opens_on_the_space_rq1_reads(cpu, data):
    """Not on the untrained network: the trained model of the RQ1 chapter, at its final checkpoint."""
    from taskspace_core.plan.requests import Role, SpaceRequest
    from taskspace_core.results.read import Reader

    where, _ = Reader(cpu).locate(SpaceRequest(Role.FINAL, cpu.chapter_size("rq1")))
    opening = next(space for space in data["spaces"] if space["name"] == where.name)
    assert data["initial"] == {field: opening[field] for field in FIELDS}
    assert data["initial"]["checkpoint"] != "epoch 0" and data["initial"]["method"] == "FTGD"
    assert "...(data.initial || {})" in explorer_html(cpu)  # the script starts from it


def test_matrices_are_the_committed_transfers_in_the_heatmap_order(cpu, data):
    space = next(s for s in data["spaces"] if s["size"] == "large")
    loaded = load_space(cpu.reference_dir() / "spaces" / space["name"], cpu)
    n = len(data["paradigms"])
    order = [loaded.paradigms.index(p) for p in data["paradigms"]]
    for metric in data["metrics"]:
        shown = np.array(space["transfer"][metric]).reshape(n, n)
        np.testing.assert_allclose(shown, loaded.transfer[metric][np.ix_(order, order)], atol=5e-5)
    # paradigms grouped by phenomenon, as in every heatmap of the book
    assert data["phenomena"] == sorted(data["phenomena"])


def test_within_tables_and_headlines_are_the_exported_ones(cpu, data):
    space = data["spaces"][0]
    manifest = json.loads((cpu.reference_dir() / "spaces" / space["name"] / "manifest.json").read_text())
    assert space["headline"]["r with the hypothesis space"] == f"{manifest['headline']['hypothesis_pearson']:+.3f}"
    assert {row["phenomenon"] for row in space["within"]} >= {"SV-AGR", "within", "between"}


def test_page_is_self_contained_and_cannot_be_closed_by_its_data(cpu):
    html = explorer_html(cpu)
    assert html.count("</script>") == 3  # data, heatmap template, script
    assert "https://" not in html.split('id="taskspace-explorer-heatmap">')[0]  # the data fetch nothing
    assert "vegaEmbed" in html


def test_a_preset_with_nothing_to_show_gets_a_note_not_an_error(cpu, tmp_path):
    from taskspace_core.config import apply_overrides

    empty = apply_overrides(cpu, {"results_dir": str(tmp_path / "results"), "work_dir": str(tmp_path / "runs")})
    assert explorer_data(empty)["spaces"] == []
    page = explorer_html(empty)
    assert "has no task spaces to explore yet" in page and "taskspace book --preset cpu" in page
    assert "<script" not in page


def test_without_committed_results_the_page_shows_what_the_run_store_computed(ci_config, ci_checkpoints):
    """`taskspace book --preset ci` computes its spaces into the run store; the explorer shows
    those, and the build does not fail for want of committed results."""
    from taskspace_core.plan.ensure import Ensurer
    from taskspace_core.plan.requests import Role, SpaceRequest

    space, analysis = Ensurer(ci_config, log=lambda *_: None, progress_file=None)(SpaceRequest(Role.FINAL, "small"))
    data = explorer_data(ci_config)
    assert data["origin"] == "run store"
    shown = next(s for s in data["spaces"] if s["name"] == space.store_dir.name)
    assert shown["size"] == "small" and shown["method"] == "FTGD"
    assert shown["headline"]["r with the hypothesis space"] == f"{analysis.headline.hypothesis_pearson:+.3f}"
    n = len(data["paradigms"])
    order = [space.paradigms.index(p) for p in data["paradigms"]]
    for metric in data["metrics"]:
        expected = space.transfer[metric][np.ix_(order, order)]
        np.testing.assert_allclose(np.array(shown["transfer"][metric]).reshape(n, n), expected, rtol=1e-5, atol=5e-5)
    assert "these are the" in explorer_html(ci_config)


def test_colour_ranges_are_the_chapters_own(cpu, data):
    from taskspace_core.book import plots

    space = data["spaces"][0]
    loaded = load_space(cpu.reference_dir() / "spaces" / space["name"], cpu)
    for metric in data["metrics"]:
        assert space["domain"][metric] == list(plots.colour_domain(loaded.transfer[metric]))
        low, high = space["domain"][metric]
        assert low == -high > -np.inf and high > 0
