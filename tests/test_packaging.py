"""The install files agree with each other and with the README's two commands."""

import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pins_that_keep_the_install_offline_and_small():
    deps = pyproject()["project"]["dependencies"]
    assert any(re.fullmatch(r"torch>=2\.13,<3", d) for d in deps)  # a range that admits today's releases ...
    # ... and every setup path installs the CPU build of 2.13.0 explicitly, before anything else
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert setup.index("pip install --quiet torch==2.13.0") < setup.index("-c constraints.txt -e '.[dev]'")
    binder = (ROOT / ".binder" / "postBuild").read_text()
    assert binder.index("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu") < binder.index("-e '.[")
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in constraints and not any(line.startswith("-e") for line in constraints)
    assert any(re.fullmatch(r"jupyter-book>=1\.0\.4,<2", d) for d in deps)
    assert any(d.startswith("transformers>=5,<6") for d in deps)
    required = {"jupyter-book", "jupytext", "papermill", "torch", "transformers", "datasets", "pandas",
                "altair", "vl-convert-python", "tokenizers", "ipykernel", "tqdm", "pyyaml"}
    names = {re.split(r"[<>=\[ ]", d)[0] for d in deps}
    assert required <= names
    assert pyproject()["project"]["scripts"]["taskspace"] == "taskspace_core.cli:main"


def test_environment_yml_installs_the_same_project():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_block = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_block == ["torch==2.13.0", "-e .[dev]"]
    assert pyproject()["project"]["requires-python"].startswith(">=3.11")
    assert "dev" in pyproject()["project"]["optional-dependencies"]


def test_readme_quickstart_has_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", quickstart, re.S)
    commands = [c.strip() for c in commands]
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    test_command = next(c for c in commands if "test" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    for script in re.findall(r"(scripts/\S+\.sh)", " ".join(commands)):
        assert (ROOT / script).is_file()


def test_one_version_string_licence_and_citation():
    """The version lives in taskspace_core/__init__.py; pyproject reads it, CITATION.cff repeats it."""
    from taskspace_core import __version__

    project = pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "taskspace_core.__version__"}
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == __version__ and citation["license"] == "MIT"
    assert "Task Spaces" in citation["preferred-citation"]["title"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


# Declared in pyproject but never imported by the package, the notebooks or the book's pages,
# each for a stated reason.
RUNTIME_ONLY = {
    "ipykernel": "the kernel papermill and myst-nb execute the pages in",
    "jupyter-book": "called as a command to render the book",
    "jinja2": "pandas' Styler imports it to render the chapters' tables",
}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_declared_dependencies_are_the_imported_ones():
    """Every third-party module the package, the notebooks and the book's pages import comes from a
    declared distribution, and every declared one is imported or listed in RUNTIME_ONLY."""
    from importlib import metadata

    modules = set()
    for path in [*(ROOT / "taskspace_core").rglob("*.py"), *(ROOT / "notebooks").glob("*.md"), *(ROOT / "book").glob("*.md")]:
        modules |= set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", path.read_text(), re.M))
    owners = metadata.packages_distributions()
    imported = {_normalised(d) for m in modules for d in owners.get(m, []) if _normalised(d) != "taskspace"}
    project = pyproject()["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["distributed"]
    declared = {_normalised(re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0]) for r in requirements}
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported == set(RUNTIME_ONLY), "declared but never imported (or RUNTIME_ONLY is stale)"


@pytest.mark.slow
def test_a_built_wheel_runs_data_and_score_outside_the_clone(tmp_path, ci_checkpoints):
    """The wheel carries BLiMP (taskspace_core.data) and the presets: installed apart from the
    clone and run from another directory, `taskspace data` and `taskspace score` work, and a
    command that needs the repository says so in one line."""
    import glob
    import os
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path / "dist")],
                   check=True, capture_output=True)
    wheel = glob.glob(str(tmp_path / "dist" / "taskspace-*.whl"))[0]
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the clone's editable install

    def taskspace(*args):
        return subprocess.run([sys.executable, "-m", "taskspace_core.cli", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=600)

    where = subprocess.run([sys.executable, "-c", "import taskspace_core; print(taskspace_core.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site))  # the wheel, not the clone
    data = taskspace("data")
    assert data.returncode == 0, data.stderr
    assert f"BLiMP at {site}" in data.stdout and re.search(r"total\s+12 phenomena\s+67\s+67000", data.stdout)
    from taskspace_core.corpora.blimp import load_blimp
    from taskspace_core.corpora.pairs import data_hash

    assert f"data hash {data_hash(load_blimp())}" in data.stdout  # the same files: the same store keys
    scored = taskspace("score", "--model", str(ci_checkpoints[-1]), "--out", str(elsewhere / "s.csv"),
                       "--paradigms", "anaphor_gender_agreement", "--max-pairs", "5")
    assert scored.returncode == 0, scored.stderr
    assert len(pd.read_csv(elsewhere / "s.csv")) == 5
    book = taskspace("book", "--preset", "ci")
    assert book.returncode != 0 and "part of the taskspace repository, not of the installed package" in book.stderr
    assert len(book.stderr.strip().splitlines()) == 1
