"""The book: notebook parameters, helpers, charts, and a full offline build of the `ci` book."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from page_checks import page_problems

from taskspace_core.analysis.hypothesis import classify_patterns
from taskspace_core.analysis.similarity import offdiag_pearson
from taskspace_core.book import interactive, plots
from taskspace_core.book.notebook import notebook_config
from taskspace_core.config import parameter_overrides
from taskspace_core.errors import ConfigError
from taskspace_core.paths import REPO_ROOT


def test_notebook_parameters_map_onto_config_fields():
    assert parameter_overrides(ftgd_threshold=1e-2, space_metric="accuracy", work_dir="/x", ftgd_seed=None) == {
        "ftgd.threshold": 1e-2, "space.metric": "accuracy", "work_dir": "/x"}
    config = notebook_config("ci", ftgd_mask_rule="top_fraction", ftgd_top_fraction=0.1, data_taxonomy="13")
    assert config.ftgd.mask_rule == "top_fraction" and config.ftgd.top_fraction == 0.1
    assert config.data.taxonomy == "13"


@pytest.mark.parametrize("parameters,needle", [
    ({"ftgd_threshold": "high"}, "ftgd.threshold"),
    ({"ftgd_treshold": 1e-3}, "ftgd.treshold"),
    ({"thresholds": 1e-3}, "thresholds"),
    ({"space_metric": "vibes"}, "space.metric"),
])
def test_bad_notebook_parameters_name_the_culprit(parameters, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        notebook_config("ci", **parameters)


def test_patterns_follow_the_stated_rule():
    names = ["a1", "a2", "a3", "b1", "b2", "b3", "c1", "c2"]
    phen = ["A", "A", "A", "B", "B", "B", "C", "C"]
    s = np.eye(8)
    for i, j, v in [(0, 1, 0.6), (0, 2, 0.5), (1, 2, 0.4), (3, 4, 0.9), (3, 5, -0.8), (4, 5, -0.7), (6, 7, 0.1)]:
        s[i, j] = s[j, i] = v
    table = classify_patterns(s, names, phen, high=0.3, low=0.0)
    assert table.pattern.to_dict() == {"A": "A", "B": "B", "C": "C"}
    assert table.loc["B", "most_similar"].startswith("b1 ~ b2") and "b1 ~ b3" in table.loc["B", "least_similar"]


def test_offdiag_pearson_ignores_the_diagonal():
    a = np.array([[9.0, 1, 2], [1, -9, 3], [2, 3, 0]])
    b = a * 2 + np.diag([5.0, 5, 5])
    assert offdiag_pearson(a, b) == pytest.approx(1.0)


def test_heatmap_carries_every_cell_in_phenomenon_order_and_one_block_per_phenomenon():
    names, phen = ["p1", "p2", "p3", "p4", "p5"], ["X", "Y", "X", "Z", "Y"]
    m = np.arange(25.0).reshape(5, 5) / 7
    spec = plots.matrix_heatmap(m, names, phen, "t", ci=(m - 1, m + 1)).to_dict()
    order = [0, 2, 1, 4, 3]  # X: p1, p3; Y: p2, p5; Z: p4
    cells = spec["layer"][0]["data"]["values"][0]  # one row of arrays, flattened in the browser
    assert cells["value"] == [round(m[i, j], 5) for i in order for j in order]
    assert cells["ci_high"] == [round(m[i, j] + 1, 5) for i in order for j in order]
    params = {p["name"].split("_")[0]: p for p in spec["params"]}
    assert params["names"]["value"] == [names[i] for i in order]
    assert params["highlight"]["bind"]["options"] == ["all", "X", "Y", "Z"]
    assert params["highlight"]["bind"]["name"] == "highlight phenomenon in t: "  # which chart's menu
    blocks = next(iter(spec["datasets"].values()))
    assert [(b["phenomenon"], b["start"], b["end"]) for b in blocks] == [("X", 0, 2), ("Y", 2, 4), ("Z", 4, 5)]
    # what the browser does with it: vl-convert runs the same Vega and draws 25 cells
    bundle = interactive.renderer(spec)
    assert bundle[interactive.MIME_TYPE] is spec
    svg = bundle["image/svg+xml"]
    marks = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert [group.count("<path") for group in marks] == [25, 3]  # the cells, then the 3 phenomenon blocks
    # each block is named twice: at its rows (left) and below its columns (turned upwards)
    texts = re.findall(r'<g class="mark-text role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert [re.findall(r">([XYZ])</text>", group) for group in texts] == [["X", "Y", "Z"]] * 2
    assert "rotate(270)" in texts[1] and "rotate(" not in texts[0]


def test_two_heatmaps_side_by_side_keep_their_own_menus():
    import altair as alt

    m = np.eye(3)
    both = alt.hconcat(plots.matrix_heatmap(m, ["a", "b", "c"], ["X", "X", "Y"], "left"),
                       plots.matrix_heatmap(m, ["a", "b", "c"], ["X", "X", "Y"], "right")).to_dict()
    names = [p["name"] for p in both.get("params", [])]  # altair lifts them to the top
    names += [p["name"] for chart in both["hconcat"] for p in chart.get("params", [])]
    assert len(names) == len(set(names)) == 6
    interactive.renderer(both)  # Vega accepts it (duplicate signal names would raise)


def test_lines_with_a_dash_grouping_draw_a_line_per_pair_and_two_short_legends():
    frame = pd.DataFrame([{"epoch": e, "share": 0.1 * k + e, "quantity": q, "masks": m}
                          for k, (q, m) in enumerate([("union", "threshold"), ("overlap", "threshold"),
                                                      ("union", "top 5%")]) for e in (0.0, 0.5)])
    spec = plots.lines(frame, "epoch", "share", "quantity", "t", dash="masks").to_dict()
    line, points = spec["layer"]
    assert line["encoding"]["strokeDash"]["field"] == "masks" and "strokeDash" not in points["encoding"]
    svg = interactive.renderer(spec)["image/svg+xml"]
    drawn = re.findall(r'<g class="mark-line role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert sum(group.count("<path") for group in drawn) == 3  # one line per (quantity, masks) present
    legends = re.findall(r"aria-label=\"Symbol legend titled '(\w+)' for ([\w ]+) with", svg)
    assert legends == [("quantity", "fill color and stroke color"), ("masks", "strokeDash")]


def test_embedded_chart_html_cannot_be_closed_by_its_data():
    spec = {"title": "a </script><b>bold</b>", "mark": "point", "data": {"values": [{"x": "</script>"}]}}
    text = interactive.embed_html(spec, "chart-1")
    assert text.count("</script>") == 2  # the spec's own element and the call, nothing from the data
    assert 'aria-label="a &lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"' in text
    assert 'id="chart-1-spec"' in text and 'taskspaceEmbed("chart-1")' in text


def test_book_plugin_embeds_the_spec_on_html_and_leaves_other_outputs():
    from myst_nb.core.render import MimeData

    spec = plots.lines(pd.DataFrame({"x": [0, 1], "y": [0.5, 0.7]}), "x", "y", None, "a line").to_dict()
    data = MimeData(interactive.MIME_TYPE, spec, cell_index=3, output_index=0)
    [node] = interactive.VegaLitePlugin.handle_mime(None, data, inline=False)
    assert node["format"] == "html" and 'id="taskspace-chart-3-0"' in node.astext()
    assert interactive.VegaLitePlugin.handle_mime(None, MimeData("image/svg+xml", "<svg/>"), inline=False) is None
    assert ("html", interactive.MIME_TYPE, 1) in interactive.VegaLitePlugin.mime_priority_overrides


def test_chart_bundle_is_scoped_stamped_and_licensed(tmp_path):
    bundle = interactive.write_bundle(tmp_path)
    text = bundle.read_text()
    assert text.startswith("// built by vl-convert-python") and "(function () {" in text[:300]
    assert "window.taskspaceEmbed" in text and text.rstrip().endswith("})();")
    licences = (tmp_path / interactive.LICENSES_NAME).read_text()
    for package in ("vega-lite", "vega-embed", "vega-tooltip", "Mike Bostock", "Interactive Data Lab"):
        assert package in licences
    before = bundle.stat().st_mtime_ns
    interactive.write_bundle(tmp_path)
    assert bundle.stat().st_mtime_ns == before  # the same vl-convert: kept, not rebuilt


def test_ci_book_builds_offline_with_warnings_as_errors(ci_config, ci_book):
    """All four notebooks executed with papermill, the HTML built with warnings as errors."""
    from taskspace_core.book.build import NOTEBOOKS
    from taskspace_core.plan.requests import Role, SpaceRequest
    from taskspace_core.results.read import Reader

    html = ci_book.parent
    src = html.parent / "src"
    for name in NOTEBOOKS:
        page = (html / "notebooks" / f"{name}.html").read_text()
        assert "Traceback" not in page
        assert 'class="taskspace-chart"' in page and "taskspace-vega.js" in page  # interactive, offline charts
        executed = json.loads((src / "notebooks" / f"{name}.ipynb").read_text())
        assert executed["metadata"]["papermill"]["parameters"]["preset"] == "ci"
    assert (html / "book" / "methods.html").is_file() and (html / "book" / "reproducing.html").is_file()
    assert page_problems(html) == []  # no nan, printed warning or machine path a reader would see
    guide = (html / "book" / "seminar_ja.html").read_text()
    paragraphs = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", guide, flags=re.S)]
    assert sum(len(STRAY_JA_SPACE.findall(p)) for p in paragraphs) == 0  # Japanese lines join without a space
    reproducing = re.sub(r"<[^>]+>", "", (html / "book" / "reproducing.html").read_text())
    assert "share of its dtype's ceiling" in reproducing
    assert re.search(r"large @ final\s+[\d.]+\s+ftgd, committed", reproducing)  # the stage table's row, by the plan's name
    assert "val bits/byte" in reproducing  # the recipe sweeps

    # The prose quotes the stored result (myst-nb glue), not a typed-in number.
    rq1 = re.sub(r"<[^>]+>", "", (html / "notebooks" / "rq1_cross_task_knowledge.html").read_text())
    _, analysis = Reader(ci_config)(SpaceRequest(Role.FINAL, "large"))  # reads the space the notebook computed
    quoted = re.search(r"hypothesis space at Pearson\s+r = ([+-]\d\.\d{3})", rq1)
    assert quoted and quoted.group(1) == f"{analysis.headline.hypothesis_pearson:+.3f}"


def test_run_checks_parameters_before_executing(tmp_path):
    from taskspace_core.book.build import parse_parameters, resolve_notebook
    from taskspace_core.errors import TaskspaceError

    assert resolve_notebook("rq3") == "rq3_learning_dynamics"
    assert resolve_notebook("notebooks/critique_generality_scale.md") == "critique_generality_scale"
    with pytest.raises(TaskspaceError, match="unknown notebook 'rq9'"):
        resolve_notebook("rq9")
    assert parse_parameters("critique_generality_scale", [("book_sweep_seeds", "[0, 5]"),
                                                          ("book_sweep_top_fraction", "0.1")]) == {
        "book_sweep_seeds": [0, 5], "book_sweep_top_fraction": 0.1}
    assert parse_parameters("rq1_cross_task_knowledge", [("ftgd_threshold", "1e-2")]) == {"ftgd_threshold": 0.01}
    with pytest.raises(TaskspaceError, match="no parameter 'ftgd_treshold'"):
        parse_parameters("rq1_cross_task_knowledge", [("ftgd_treshold", "1")])
    with pytest.raises(TaskspaceError, match="'pattern_high' expects float"):
        parse_parameters("rq1_cross_task_knowledge", [("pattern_high", "high")])
    with pytest.raises(TaskspaceError, match="parameter book_sweep_thresholds .*finite number >= 0"):
        parse_parameters("critique_generality_scale", [("book_sweep_thresholds", "[0.1, -1]")])
    with pytest.raises(TaskspaceError, match="no parameter 'thresholds'"):  # renamed to the config field
        parse_parameters("critique_generality_scale", [("thresholds", "[0.1]")])
    with pytest.raises(TaskspaceError, match="parameter 'earlier_preset': 'cpu-v0' is not another shipped preset"):
        parse_parameters("claims", [("earlier_preset", "cpu-v0")])
    with pytest.raises(TaskspaceError, match="parameter 'earlier_preset': 'cpu' is not another"):
        parse_parameters("claims", [("earlier_preset", "cpu")])  # the page's own preset
    assert parse_parameters("claims", [("earlier_preset", "tiny")]) == {"earlier_preset": "tiny"}
    # a string parameter keeps its text, so an epoch is a valid checkpoint
    assert parse_parameters("rq1_cross_task_knowledge", [("checkpoint", "0.5")]) == {"checkpoint": "0.5"}
    # ... and an empty one stays empty (results_dir "" computes everything instead of loading)
    assert parse_parameters("rq1_cross_task_knowledge", [("results_dir", "")]) == {"results_dir": ""}


# What a reader sees as a stray space: two Japanese characters with whitespace between them.
STRAY_JA_SPACE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff][ \n]+[\u3040-\u30ff\u4e00-\u9fff]")


def test_japanese_line_breaks_join_without_a_space_and_other_breaks_stay():
    from docutils import nodes

    from taskspace_core.book.sphinx_ext import join_cjk_lines

    paragraph = nodes.paragraph()
    paragraph += nodes.Text("再現結果を\n短く紹介し、4 GB の\nPC で。英語の")
    link = nodes.reference()
    link += nodes.Text("ハンドアウト")
    paragraph += [link, nodes.Text("\nにまとめてあります。English\nwords")]
    code = nodes.literal()
    code += nodes.Text("例\n例")
    paragraph += code
    document = nodes.document(None, None)
    document += [paragraph, nodes.literal_block("", "例\n例")]
    assert join_cjk_lines(document) == 2  # within a text, and across the link's edge
    assert paragraph.astext() == "再現結果を短く紹介し、4 GB の\nPC で。英語のハンドアウトにまとめてあります。English\nwords例\n例"
    assert document.children[1].astext() == "例\n例"  # code keeps its lines
    assert not STRAY_JA_SPACE.search(paragraph.astext().replace("例\n例", ""))


def test_glued_sentences_are_marked_as_prose_and_glued_numbers_stay_bold():
    from docutils import nodes

    from taskspace_core.book.sphinx_ext import PROSE_CLASS, STYLESHEET, mark_glued_prose

    glued = ["+0.20", "holds (threshold 0.001); inconclusive (top 5%)",
             "The same network at initialisation, fine-tuned and probed in exactly the same way, gives r = +0.07.",
             "30 分の枠に結果を読む時間が残ります", "334 万〜2,599 万"]
    paragraph = nodes.paragraph()
    for text in glued:
        paragraph += nodes.inline(text, text, classes=["pasted-text"])
    paragraph += nodes.inline("an ordinary span of many more than eight words in a row", "x", classes=["other"])
    document = nodes.document(None, None)
    document += paragraph
    assert mark_glued_prose(document) == 2 and mark_glued_prose(document) == 0  # marked once
    assert [PROSE_CLASS in node["classes"] for node in paragraph.children] == [False, False, True, True, False, False]
    css = STYLESHEET.read_text()
    assert f"span.pasted-text.{PROSE_CLASS}" in css and "@media print" in css and ".vega-bindings" in css


def test_duplicate_inline_scripts_are_dropped_once():
    from sphinx.builders.html._assets import _JavaScript

    from taskspace_core.book.sphinx_ext import _dedupe_scripts

    body = 'const THEBE_JS_URL = "x"'
    context = {"script_files": [_JavaScript("_static/a.js"), _JavaScript(None, body=body),
                                _JavaScript("_static/b.js", **{"async": "async"}), _JavaScript("", body=body),
                                _JavaScript("_static/a.js")]}
    _dedupe_scripts(None, "page", "page.html", context, None)
    assert [(s.filename or "", s.attributes.get("body")) for s in context["script_files"]] == [
        ("_static/a.js", None), ("", body), ("_static/b.js", None)]


def test_pages_show_no_machine_path_and_kernels_start_quietly(tmp_path, capfd):
    """Papermill's injected cell holds paths relative to the repository where they lie inside it,
    and the kernels talk over IPC sockets, so none warns about unencrypted TCP."""
    import nbformat
    import papermill

    from taskspace_core.book.build import LocalKernelManager, shown_path
    from taskspace_core.paths import REPO_ROOT

    assert shown_path(REPO_ROOT / "runs") == "runs" and shown_path(REPO_ROOT / "results" / "cpu") == "results/cpu"
    assert shown_path(tmp_path) == str(tmp_path.resolve())  # outside the repository: as it is
    # importing the package first silences tqdm's "IProgress not found" (with the venv's path),
    # which transformers' import of tqdm.auto prints in a kernel without ipywidgets
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import taskspace_core\nimport tqdm.auto"),
                                               nbformat.v4.new_code_cell("print(6 * 7)")])
    source, executed = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False,
                               kernel_manager_class=LocalKernelManager)
    cells = nbformat.read(executed, as_version=4).cells
    assert "42" in cells[1].outputs[0]["text"]
    assert not any("IProgress" in str(output) for output in cells[0].outputs)
    assert "without encryption" not in capfd.readouterr().err


def test_run_shows_progress_and_executes_a_chapter(ci_reference, tmp_path):
    """`taskspace run` as a re-runner types it: a bar of executed cells on the terminal, and the
    executed notebook where --out says, from the committed results without weights."""
    import subprocess
    import sys

    config, _ = ci_reference
    out = tmp_path / "rq2.ipynb"
    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", "run", "rq2", "-p", "preset", "ci",
                           "-p", "work_dir", str(tmp_path / "empty-runs"), "-p", "results_dir", config.results_dir,
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Executing" in proc.stderr and "cell" in proc.stderr  # papermill's per-cell progress
    assert out.is_file() and f"executed notebook: {out}" in proc.stdout
    assert not (tmp_path / "empty-runs" / "ci" / "models").exists()


def test_jupyter_book_build_executes_and_taskspace_book_does_not_twice(tmp_path):
    """`jupyter-book build .` executes the pages (the repo's config); the copy `taskspace book`
    stages has execution off, since papermill has executed every page with the preset's parameters."""
    import shutil

    import yaml

    from taskspace_core.book.build import _stage_config
    from taskspace_core.book.notebook import notebook_config
    from taskspace_core.paths import REPO_ROOT

    repo = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    assert repo["execute"]["execute_notebooks"] == "force" and repo["execute"]["timeout"] >= 600
    staged = tmp_path / "_config.yml"
    shutil.copy(REPO_ROOT / "_config.yml", staged)
    _stage_config(staged, None)
    assert yaml.safe_load(staged.read_text())["execute"]["execute_notebooks"] == "off"
    # a page executed in its own folder still finds the repository's run directory
    assert notebook_config("ci", work_dir="runs").run_dir() == REPO_ROOT / "runs" / "ci"
    assert notebook_config("ci", work_dir=str(tmp_path)).run_dir() == tmp_path / "ci"


def test_what_a_notebook_computes_reports_to_the_terminal_not_the_page(ci_reference, tmp_path):
    """A re-run that computes (no committed results, and a run store that lost one finished job of
    each space) shows its task-space progress on the terminal of `taskspace run`, and none of it on the page."""
    import shutil
    import subprocess
    import sys

    import nbformat

    config, _ = ci_reference
    work_dir = tmp_path / "runs"
    shutil.copytree(config.work_dir, work_dir)  # the session's models and stores, so nothing is retrained
    for space in (work_dir / "ci" / "spaces").iterdir():
        sorted((space / "source").glob("*.json"))[0].unlink()  # each space computes one job again
    out = tmp_path / "rq3.ipynb"
    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", "run", "rq3", "-p", "preset", "ci",
                           "-p", "work_dir", str(work_dir), "-p", "results_dir", "",
                           "--out", str(out)], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "task space" in proc.stderr and "jobs already stored" in proc.stderr and "job/s" in proc.stderr
    page = "".join(str(output) for cell in nbformat.read(out, as_version=4).cells for output in cell.get("outputs", []))
    assert "jobs already stored" not in page and "job/s" not in page


@pytest.mark.parametrize("patched", [False, True])
def test_pages_executed_by_myst_nb_run_their_kernels_over_ipc(patched):
    """`jupyter-book build .` executes pages through nbclient, each kernel in its page's folder; the
    book's Sphinx extension gives nbclient the IPC kernel manager, so no kernel warns that its TCP
    traffic is unencrypted (the unpatched run shows the warning this removes), and the sockets are
    found although the kernel runs in another folder than the manager."""
    import subprocess
    import sys

    script = (
        "import nbformat, tempfile\n"
        "from nbclient import execute\n"
        "from taskspace_core.book.sphinx_ext import kernels_over_ipc\n"
        f"if {patched}:\n    kernels_over_ipc()\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])\n"
        "print(execute(nb, cwd=tempfile.mkdtemp()).cells[0].outputs[0]['data']['text/plain'])\n"
    )
    # the patch is applied when the extension is set up, not when it is imported
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "2", proc.stderr[-2000:]
    assert ("TCP without encryption" in proc.stderr) is not patched
