"""The explorer page's data: every committed space of a preset, reachable by its choices."""

import json

import numpy as np
import pytest

from taskspace_core.config import load_preset
from taskspace_core.errors import TaskspaceError
from taskspace_core.explorer import FIELDS, committed_spaces, explorer_data, explorer_html
from taskspace_core.results import load_space


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


def test_a_preset_without_committed_results_is_named(cpu, tmp_path):
    from taskspace_core.config import apply_overrides

    empty = apply_overrides(cpu, {"results_dir": str(tmp_path)})
    with pytest.raises(TaskspaceError, match="no committed task spaces for preset 'cpu'"):
        explorer_data(empty)


def test_colour_ranges_are_the_chapters_own(cpu, data):
    from taskspace_core import plots

    space = data["spaces"][0]
    loaded = load_space(cpu.reference_dir() / "spaces" / space["name"], cpu)
    for metric in data["metrics"]:
        assert space["domain"][metric] == list(plots.colour_domain(loaded.transfer[metric]))
        low, high = space["domain"][metric]
        assert low == -high > -np.inf and high > 0
