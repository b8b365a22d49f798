"""The seminar kit: exercises that run, guides that stay in step, a deck that builds offline."""

import re
import shlex
from pathlib import Path

import pytest

from taskspace_core.book.build import NOTEBOOKS, parse_parameters, resolve_notebook
from taskspace_core.book.exercises import EXERCISES, PRESET, exercise_intro, exercise_markdown, exercises_for
from taskspace_core.paths import REPO_ROOT


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_exercise_is_a_valid_run_of_its_notebook(exercise):
    assert exercise.notebook in NOTEBOOKS and exercise.notebook.startswith(("rq1", "rq2", "rq3"))
    # the parameters pass the same checks `taskspace run` applies (names, types, config values)
    parsed = parse_parameters(exercise.notebook, exercise.parameter_pairs())
    assert set(parsed) == {"preset", *exercise.parameters}
    words = shlex.split(exercise.command())
    assert words[:2] == ["taskspace", "run"] and resolve_notebook(words[2]) == exercise.notebook
    assert shlex.split(exercise.papermill_command())[0] == "papermill"
    assert exercise.title and exercise.look_for and exercise.title_ja and exercise.look_for_ja


def test_each_research_question_ends_with_exercises_and_discussion_questions():
    for name in ("rq1_cross_task_knowledge", "rq2_model_size", "rq3_learning_dynamics"):
        text = (REPO_ROOT / "notebooks" / f"{name}.md").read_text()
        assert len(exercises_for(name)) >= 2
        tail = text[text.index("## Try it yourself"):]
        assert f'exercise_markdown("{name}")' in tail
        questions = tail[tail.index("### Questions for discussion"):]
        assert len(re.findall(r"^\d\. ", questions, flags=re.M)) >= 2
        assert "critique" in questions
        block = exercise_markdown(name)
        assert all(e.command() in block and e.look_for in block for e in exercises_for(name))


def doc_targets(text):
    return set(re.findall(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`", text))


def test_the_english_and_japanese_guides_stay_in_step():
    english = (REPO_ROOT / "book" / "seminar.md").read_text()
    japanese = (REPO_ROOT / "book" / "seminar_ja.md").read_text()
    # the same chapters, figures and handout (each also links the other language)
    assert doc_targets(english) - {"seminar_ja"} == doc_targets(japanese) - {"seminar"}
    assert "seminar_ja" in doc_targets(english) and "seminar" in doc_targets(japanese)
    # the same sections, and the same 90-minute plan (rows of the plan table, by their minutes)
    assert len(re.findall(r"^## ", english, flags=re.M)) == len(re.findall(r"^## ", japanese, flags=re.M))
    minutes = re.compile(r"^\| (\d+–\d+) \|", flags=re.M)
    assert minutes.findall(english) == minutes.findall(japanese) != []
    # both hand out the same exercises from the one list (and its measured times)
    for text in (english, japanese):
        assert "exercise_table(EXERCISES" in text
    assert re.search(r"[\u3040-\u30ff]", japanese)  # it is in Japanese


def test_ci_book_has_the_exercises_and_both_guides(ci_book):
    html = ci_book.parent
    for page in ("seminar", "seminar_ja", "handout"):
        text = (html / "book" / f"{page}.html").read_text()
        assert "Traceback" not in text
    assert all(e.id in (html / "book" / "seminar.html").read_text() for e in EXERCISES)
    assert "グループ課題" in (html / "book" / "seminar_ja.html").read_text()
    handout = (html / "book" / "handout.html").read_text()
    assert 'class="taskspace-chart"' in handout  # the key figure (drawn offline; printed as the browser draws it)
    assert "results_dir" not in handout  # neither its parameters cell nor papermill's injected one is shown
    rq1 = re.sub(r"<[^>]+>", "", (html / "notebooks" / "rq1_cross_task_knowledge.html").read_text())
    assert "Try it yourself" in rq1 and "taskspace run rq1 -p preset cpu -p space_metric accuracy" in rq1


def test_the_slides_build_offline_from_the_books_results(ci_reference, tmp_path):
    from taskspace_core.book.notebook import notebook_config
    from taskspace_core.book.slides import build_slides
    from taskspace_core.plan.requests import Role, SpaceRequest
    from taskspace_core.results.read import Reader

    config, _ = ci_reference
    index = build_slides("ci", tmp_path / "deck", work_dir=str(tmp_path / "empty-runs"),
                         results_dir=config.results_dir)
    page = index.read_text()
    assert page.count("<section>") >= 6
    for title in ("three questions", "The method", "Our task space", "Size and dynamics", "The critique"):
        assert title in page
    assert "<svg" in page  # the figure is inline, not fetched
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing to download
    assert (index.parent / "reveal" / "reveal.js").stat().st_size > 50_000
    assert not (tmp_path / "empty-runs" / "ci" / "models").exists()  # drawn from the committed results
    # the deck quotes the same numbers as the book
    reader = Reader(notebook_config("ci", results_dir=config.results_dir, work_dir=str(tmp_path / "empty-runs")))
    _, analysis = reader(SpaceRequest(Role.FINAL, config.chapter_size("rq1")))
    assert f"r = {analysis.headline.hypothesis_pearson:+.3f} with the hypothesis space" in page


@pytest.mark.slow
def test_slides_command_rejects_a_bad_preset():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "taskspace_core.cli", "slides", "--preset", "paperr"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown preset 'paperr'" in proc.stderr


@pytest.mark.slow
def test_launch_buttons_point_at_the_launch_branch_and_vanish_without_a_github_remote(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import jupytext
    import yaml
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from taskspace_core.book.build import _stage_config

    def build(repository):
        src = tmp_path / (repository or "none").replace("/", "_").replace(":", "")
        (src / "notebooks").mkdir(parents=True)
        shutil.copy(REPO_ROOT / "_config.yml", src / "_config.yml")
        config = yaml.safe_load((src / "_config.yml").read_text())
        config["sphinx"].pop("extra_extensions")  # only the theme is under test
        (src / "_config.yml").write_text(yaml.safe_dump(config))
        (src / "_toc.yml").write_text("format: jb-book\nroot: notebooks/page\n")
        notebook = new_notebook(cells=[new_markdown_cell("# A page"), new_code_cell("1 + 1")])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        jupytext.write(notebook, src / "notebooks" / "page.ipynb")
        _stage_config(src / "_config.yml", repository)
        proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "-W", "-n",
                               "--quiet"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return (src / "_build" / "html" / "notebooks" / "page.html").read_text()

    page = build("https://github.com/someone/taskspace")
    assert 'href="https://github.com/someone/taskspace"' in page  # the repository button
    assert "https://mybinder.org/v2/gh/someone/taskspace/launch?urlpath=lab/tree/notebooks/page.ipynb" in page
    assert "https://colab.research.google.com/github/someone/taskspace/blob/launch/notebooks/page.ipynb" in page
    assert "mybinder.org" not in build(None)  # a clone without a GitHub remote: no buttons, no warning


def test_the_launch_notebooks_open_with_a_colab_setup_cell(tmp_path):
    import importlib.util
    import shutil

    import jupytext

    spec = importlib.util.spec_from_file_location("launch_notebooks", REPO_ROOT / "scripts" / "launch_notebooks.py")
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)
    assert {p.stem for p in launch.PAGES} >= set(NOTEBOOKS) | {"seminar", "seminar_ja", "handout"}
    page = tmp_path / "rq1_cross_task_knowledge.md"
    shutil.copy(REPO_ROOT / "notebooks" / page.name, page)
    (written,) = launch.write_launch_notebooks("https://github.com/someone/taskspace", [page])
    cells = jupytext.read(written).cells
    assert "google.colab" in cells[0].source and "https://github.com/someone/taskspace" in cells[0].source
    assert [c.source for c in cells[1:]] == [c.source for c in jupytext.read(page).cells]
    compile(cells[0].source, "colab-setup", "exec")  # it is valid Python


def _configured(notebook_file, pairs_source: str):
    """Run a prepared notebook's parameter cells (its own and the injected one) and its
    ``config = notebook_config(...)`` statement: the namespace and the config the run would use."""
    import ast

    import nbformat

    cells = nbformat.read(notebook_file, as_version=4).cells
    namespace = {}
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            exec(cell.source, namespace)  # noqa: S102 - the notebook's own parameter cells
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in cells), pairs_source
    source = next(c.source for c in cells if c.cell_type == "code" and "config = notebook_config(" in c.source)
    statement = next(node for node in ast.parse(source).body
                     if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "config")
    exec("from taskspace_core.book.notebook import notebook_config\n" + ast.unparse(statement), namespace)  # noqa: S102
    return namespace, namespace["config"]


@pytest.mark.slow
@pytest.mark.parametrize("form", ["taskspace", "papermill"])
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_printed_exercise_command_runs_and_sets_its_parameters(exercise, form, tmp_path):
    """The command the chapters print, run in a shell as printed (with papermill's --prepare-only, so
    that nothing is computed), gives the notebook the parameters and the config the exercise means."""
    import os
    import subprocess
    import sys

    import jupytext

    from taskspace_core.config import to_dict

    if form == "taskspace":
        command = f"{exercise.command()} --prepare-only"
        prepared = REPO_ROOT / shlex.split(exercise.command())[-1]
    else:  # "papermill NAME.ipynb ID.ipynb -p ...", on the notebook converted by jupytext
        jupytext.write(jupytext.read(REPO_ROOT / "notebooks" / f"{exercise.notebook}.md"),
                       tmp_path / f"{exercise.notebook}.ipynb")
        command = f"{exercise.papermill_command()} --prepare-only"
        prepared = tmp_path / f"{exercise.id}.ipynb"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cwd = REPO_ROOT if form == "taskspace" else tmp_path
    proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
    try:
        namespace, config = _configured(prepared, command)
    finally:
        if form == "taskspace":
            prepared.unlink(missing_ok=True)
    assert config.preset == PRESET
    flat = {f"{section}_{name}": value for section, fields in to_dict(config).items() if isinstance(fields, dict)
            for name, value in fields.items()}
    for name, expected in parse_parameters(exercise.notebook, exercise.parameter_pairs()).items():
        if name == "preset":
            continue
        got = flat[name] if name in flat else namespace[name]  # a config field, or a notebook variable
        if isinstance(got, tuple | list):
            got, expected = list(got), list(expected)
        assert str(got) == str(expected), f"{name}: {got!r} != {expected!r} from `{command}`"


def test_the_exercise_intro_states_the_shipped_models_size_accuracy_and_place():
    """The numbers of "Try it yourself" come from the preset file and the committed records, not typed text
    (a typed "0.4-1.3M parameters" once outlived the sizes it described)."""
    from taskspace_core.analysis.accuracy import accuracy_table, final_scores
    from taskspace_core.config import load_preset
    from taskspace_core.lm.models import spec_parameters
    from taskspace_core.lm.shipped import shipped_dir

    config = load_preset(PRESET)
    size = config.book.shipped_sizes[0]
    text = exercise_intro("rq2_model_size")
    assert f"{spec_parameters(config.size(size), config.tokenizer.vocab_size) / 1e6:.2f}M parameters" in text
    assert f"{accuracy_table(final_scores(config)).loc['overall', size]:.3f} on the BLiMP test split" in text
    where = shipped_dir(config, size, max(config.pretrain.checkpoints))
    assert where is not None and f"`{where.relative_to(REPO_ROOT)}/`" in text  # the weights are where it says
    assert "notebooks/rq2_model_size.md -o rq2_model_size.ipynb" in text


def test_compute_exercises_fine_tune_only_the_shipped_model_and_pretrain_nothing():
    """A compute exercise selects its paradigms on the shipped size and reads (never pretrains) its
    companions; a re-analysis changes no parameter that is part of a space's key, so it reads the
    committed spaces."""
    from taskspace_core.book.exercises import COMPUTE, REANALYSIS
    from taskspace_core.config import load_preset

    config = load_preset(PRESET)
    kinds = {e.kind for e in EXERCISES}
    assert kinds == {COMPUTE, REANALYSIS}
    for e in EXERCISES:
        if e.kind == COMPUTE:
            assert e.parameters["size"] in config.book.shipped_sizes and e.parameters["compute_companions"] is False


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.kind == "re-analysis"], ids=lambda e: e.id)
def test_a_reanalysis_reads_only_committed_spaces(exercise):
    """Under a re-analysis's parameters every space of the preset's plan is committed, so the run
    reads them all and computes nothing (a fixed 5% mask, say, would need its own null and replicates)."""
    from taskspace_core.book.notebook import notebook_config
    from taskspace_core.plan.checks import committed

    fields = {name: value for name, value in exercise.parameters.items()
              if name.split("_")[0] in ("data", "ftgd", "space", "scoring", "pretrain")}
    found = committed(notebook_config(PRESET, **fields))
    assert all(found.values()), [space for space, ok in found.items() if not ok]


def test_every_exercise_the_pages_name_exists():
    """A chapter or guide that names an exercise (`rq3-…`) names one of the list (an exercise once
    dropped from it outlived itself in a discussion question)."""
    ids = {e.id for e in EXERCISES}
    for page in [*(REPO_ROOT / "notebooks").glob("*.md"), *(REPO_ROOT / "book").glob("*.md"), REPO_ROOT / "README.md"]:
        named = set(re.findall(r"`(rq[123]-[a-z0-9-]+)`", page.read_text()))
        assert named <= ids, f"{page.name} names {sorted(named - ids)}"
