"""The install files agree with each other and with the README's two commands."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pins_that_keep_the_install_offline_and_small():
    deps = pyproject()["project"]["dependencies"]
    assert "torch==2.13.0" in deps
    assert any(re.fullmatch(r"jupyter-book>=1\.0\.4,<2", d) for d in deps)
    assert any(d.startswith("transformers>=5,<6") for d in deps)
    required = {"jupyter-book", "jupytext", "papermill", "torch", "transformers", "datasets", "pandas",
                "altair", "vl-convert-python", "tokenizers", "pyarrow", "ipykernel", "tqdm", "pyyaml"}
    names = {re.split(r"[<>=\[ ]", d)[0] for d in deps}
    assert required <= names
    assert pyproject()["project"]["scripts"]["taskspace"] == "taskspace_core.cli:main"


def test_environment_yml_installs_the_same_project():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_block = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_block == ["-e .[dev]"]
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
