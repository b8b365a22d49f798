"""The README's commands, run exactly as printed, in a clean checkout with an empty work dir.

The checkout holds what a clone of this commit holds (tracked files, plus new files git does
not ignore), no ``runs/``, no ``_build/`` and no ``results/ci``. The install step is set aside:
``.venv`` points at the environment running the tests, whose install stamp matches this
checkout's ``pyproject.toml`` and ``constraints.txt``, so ``scripts/setup.sh`` installs nothing,
and ``PYTHONPATH`` makes that environment import the checkout's package, not the editable one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from page_checks import page_problems

from taskspace_core.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # the `cpu` book rendered, and a whole `ci` book computed from nothing (6 minutes)


def _install_stamp(root: Path) -> str:
    """What ``scripts/setup.sh`` writes into ``.venv/.taskspace-installed`` after installing."""
    return hashlib.sha256((root / "pyproject.toml").read_bytes() + (root / "constraints.txt").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    venv = Path(sys.prefix)
    stamp = venv / ".taskspace-installed"
    if not stamp.is_file() or stamp.read_text().strip() != _install_stamp(REPO_ROOT):
        pytest.skip(f"{venv} was not installed by scripts/setup.sh from this checkout's files")
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    root = tmp_path_factory.mktemp("checkout") / "taskspace"
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not part of the next commit
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(venv)
    assert not (root / "runs").exists() and not (root / "results" / "ci").exists()
    return root


def run(checkout: Path, command: str, timeout: int, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(checkout), **env_vars}
    env.pop("PRESET", None)
    return subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_readme_main_job_renders_the_committed_results_and_computes_nothing(checkout):
    """`bash scripts/main.sh` as printed, with compute switched off underneath it
    (TASKSPACE_READ_ONLY, which `taskspace book --read-only` sets): the default book must need no
    training, no fine-tuning and no weights."""
    readme = (checkout / "README.md").read_text()
    assert "\nbash scripts/main.sh\n" in readme
    proc = run(checkout, "bash scripts/main.sh", timeout=1200, TASKSPACE_READ_ONLY="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (checkout / "_build" / "cpu" / "html" / "index.html").is_file()
    assert not (checkout / "runs" / "cpu").exists()  # nothing trained, computed or memoised
    assert page_problems(checkout / "_build" / "cpu" / "html") == []  # no nan, printed warning or machine path


def test_readme_ci_main_job_then_results_check(checkout):
    readme = (checkout / "README.md").read_text()
    main_job, check, reproduce = ("PRESET=ci bash scripts/main.sh", "taskspace results", "taskspace reproduce")
    assert f"`{main_job}`" in readme and check in readme and reproduce in readme

    # the main job, as printed: installs nothing here (see the module docstring), computes every
    # space of the `ci` book into runs/ci and builds the book
    proc = run(checkout, main_job, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = checkout / "_build" / "ci" / "html"
    assert (html / "index.html").is_file()
    explorer = (html / "book" / "explorer.html").read_text()
    assert "taskspace-explorer-data" in explorer and "this build computed" in explorer
    imported = run(checkout, ".venv/bin/python -c 'import taskspace_core; print(taskspace_core.__file__)'", 60)
    assert Path(imported.stdout.strip()).is_relative_to(checkout)  # the checkout's code ran, not the editable one

    # `taskspace results` on a preset with nothing committed: says so, names the command that
    # makes the results, and fails
    proc = run(checkout, ".venv/bin/taskspace results --preset ci", timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no meta.json" in proc.stdout and "taskspace reproduce --preset ci" in proc.stdout

    # `taskspace reproduce` exports what the book computed (nothing is recomputed: same work
    # dir, same keys), after which `taskspace results` reports them complete
    proc = run(checkout, ".venv/bin/taskspace reproduce --preset ci", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    to_compute = [int(n) for n in re.findall(r"(\d+) to compute", proc.stdout + proc.stderr)]
    assert to_compute and not any(to_compute), to_compute  # every job was already stored
    proc = run(checkout, ".venv/bin/taskspace results --preset ci", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "complete, every hash matches" in proc.stdout
