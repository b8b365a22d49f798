"""Build the Jupyter Book: execute each notebook with papermill, then render offline HTML.

    taskspace book --preset P      ->  _build/<P>/html/index.html

1. Each ``notebooks/*.md`` (jupytext MyST) becomes an ``.ipynb`` and is executed with papermill,
   with ``preset`` and ``work_dir`` injected as parameters. The notebooks call the core, which
   loads cached results from the store or computes what is missing.
2. The executed notebooks, the ``book/`` chapters, ``_config.yml`` and ``_toc.yml`` are staged
   in ``_build/<P>/src`` (so the sources stay free of build products), and Jupyter Book 1.x
   renders them with warnings as errors. Charts are drawn by the book's own Vega bundle
   (`interactive.py`, `sphinx_ext.py`); nothing is fetched.
"""

from __future__ import annotations

import ast
import multiprocessing
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import CaselessStrEnum, default

from ..config import CONFIG_SECTIONS, PRESETS, load_preset
from ..corpora import benchmarks
from ..errors import TaskspaceError
from ..lm.checkpoints import checkpoint_epoch
from ..paths import REPO_ROOT, repo_file
from ..plan.checks import is_complete
from .notebook import notebook_config

NOTEBOOKS = ("rq1_cross_task_knowledge", "rq2_model_size", "rq3_learning_dynamics", "claims",
             "critique_generality_scale")
# book/ pages with code (measured costs and timings, the handout's figure), executed like the notebooks
EXECUTED_CHAPTERS = ("explorer", "reproducing", "seminar", "handout", "seminar_ja")
BOOK_FILES = ("_config.yml", "_toc.yml")
PAGE_WORKERS = 2  # pages executed at a time from complete results: this machine's cores


class BookBuildError(TaskspaceError):
    """A notebook failed to execute or the book did not build."""


class LocalKernelManager(AsyncKernelManager):
    """A kernel on this machine reached over IPC sockets (files in Jupyter's runtime directory):
    nothing listens on a network port, and the kernel has no reason to warn, once per page, that
    TCP traffic is unencrypted."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    @default("ip")
    def _ip_default(self) -> str:
        # The sockets' path prefix, absolute: jupyter_client's default ("kernel-ipc") is relative, so a
        # kernel started in another folder (myst-nb runs each page in the page's own) binds sockets
        # the manager never finds.
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        return str(runtime / f"taskspace-{uuid.uuid4().hex[:12]}-ipc")


def shown_path(path: str | Path) -> str:
    """``path`` as a page shows it: relative to the repository when it lies inside it (the kernels
    run there, so it means the same), else absolute. No page shows this machine's layout."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(resolved)


def execute_notebook(name: str, out_dir: Path, parameters: dict, log: Callable[[str], None] = print,
                     folder: str = "notebooks", progress: bool = False, live_output: bool = False,
                     prepare_only: bool = False) -> Path:
    """Convert ``<folder>/<name>.md`` to ipynb and execute it with papermill into ``out_dir``;
    ``progress`` shows a bar of executed cells, ``live_output`` streams each cell's printed
    output and logs (e.g. a task space being computed) to the terminal as it runs;
    ``prepare_only`` (papermill's flag) writes the notebook with its parameters injected and runs nothing."""
    source = REPO_ROOT / folder / f"{name}.md"
    out_dir.mkdir(parents=True, exist_ok=True)
    unexecuted = out_dir / f".{name}.input.ipynb"
    jupytext.write(jupytext.read(source), unexecuted)
    executed = out_dir / f"{name}.ipynb"
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(unexecuted), str(executed), parameters=parameters, cwd=str(REPO_ROOT),
                                   kernel_name="python3", progress_bar=progress, log_output=live_output,
                                   kernel_manager_class=LocalKernelManager, prepare_only=prepare_only)
    except papermill.PapermillExecutionError as exc:
        raise BookBuildError(f"notebook {source.relative_to(REPO_ROOT)} failed in cell {exc.exec_count}: "
                             f"{exc.ename}: {exc.evalue} (executed copy: {executed})") from None
    finally:
        unexecuted.unlink(missing_ok=True)
    _hide_injected_parameters(executed)
    done = "prepared (parameters injected, nothing run)" if prepare_only else "executed"
    log(f"{done} {source.relative_to(REPO_ROOT)} in {time.perf_counter() - started:.0f}s")
    return executed


def _hide_injected_parameters(executed: Path) -> None:
    """A page that hides its parameters cell (``remove-cell``) hides papermill's injected one too."""
    notebook = nbformat.read(executed, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    if any("parameters" in t and "remove-cell" in t for t in tags):
        for cell, cell_tags in zip(notebook.cells, tags):
            if "injected-parameters" in cell_tags and "remove-cell" not in cell_tags:
                cell.metadata["tags"] = [*cell_tags, "remove-cell"]
        nbformat.write(notebook, executed)


def github_origin() -> str | None:
    """``https://github.com/OWNER/REPO`` of this clone's ``origin`` remote, if it is on GitHub."""
    proc = subprocess.run(["git", "-C", str(REPO_ROOT), "remote", "get-url", "origin"], capture_output=True, text=True)
    url = proc.stdout.strip().removesuffix(".git")
    for prefix in ("git@github.com:", "ssh://git@github.com/", "https://github.com/"):
        if proc.returncode == 0 and url.startswith(prefix):
            return "https://github.com/" + url.removeprefix(prefix)
    return None


# Launch buttons on the notebook pages (they need internet; the offline build is unaffected).
# The `launch` branch is made by .github/workflows/book.yml: main plus the notebooks converted
# to .ipynb, which Colab needs; Binder installs the project with .binder/ (see the reproducing chapter).
LAUNCH = {"branch": "launch", "launch_buttons": {"notebook_interface": "jupyterlab",
                                                 "binderhub_url": "https://mybinder.org",
                                                 "colab_url": "https://colab.research.google.com"}}


def _stage_config(config_path: Path, repository: str | None) -> None:
    """The staged book's config: execution off (papermill has executed every page), and launch
    buttons and a repository button for ``repository`` when there is one (with none, the theme
    has nothing to point at)."""
    config = yaml.safe_load(config_path.read_text())
    config["execute"]["execute_notebooks"] = "off"
    if repository:
        config["repository"] = {"url": repository, "branch": LAUNCH["branch"]}
        config["launch_buttons"] = dict(LAUNCH["launch_buttons"])
        config["html"]["use_repository_button"] = True  # a link to the repository on every page
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def resolve_notebook(name: str) -> str:
    """``rq1`` / ``rq1_cross_task_knowledge`` / ``notebooks/rq1_cross_task_knowledge.md`` -> the notebook's name."""
    stem = Path(name).stem
    matches = [n for n in NOTEBOOKS if n == stem] or [n for n in NOTEBOOKS if n.startswith(stem)]
    if len(matches) != 1:
        raise TaskspaceError(f"unknown notebook '{name}' (choose from {', '.join(NOTEBOOKS)})")
    return matches[0]


def notebook_parameters(name: str) -> dict[str, object]:
    """The defaults of a notebook's ``parameters`` cell, as Python values."""
    notebook = jupytext.read(REPO_ROOT / "notebooks" / f"{name}.md")
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise BookBuildError(f"notebooks/{name}.md must have exactly one cell tagged 'parameters'")
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
    return defaults


def parse_parameters(name: str, pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Command-line ``-p NAME VALUE`` pairs -> typed papermill parameters, checked against the defaults."""
    defaults = notebook_parameters(name)
    out = {}
    for key, text in pairs:
        if key not in defaults:
            raise TaskspaceError(f"notebook {name} has no parameter '{key}' (parameters: {', '.join(defaults)})")
        default = defaults[key]
        value = _literal(text)
        if isinstance(default, str) and (value is None or isinstance(value, (int, float))) \
                and not isinstance(value, bool):
            value = text  # a string parameter keeps its text: `-p checkpoint 0.5`, `-p data_taxonomy 13`, `-p results_dir ""`
        expected = type(default)
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        ok = (default is None or isinstance(value, expected)
              or (numeric and isinstance(value, (int, float)) and not isinstance(value, bool)))
        if not ok:
            raise TaskspaceError(f"notebook parameter '{key}' expects {expected.__name__} "
                                 f"(default {default!r}), got {text!r}")
        out[key] = value
    _check_config_parameters({**defaults, **out})
    return out


def _check_config_parameters(parameters: dict[str, object]) -> None:
    """Build the config the notebook will build, so a bad value fails here in one line, not in the kernel."""
    top_level = {"work_dir", "results_dir"}
    fields = {k: v for k, v in parameters.items() if k in top_level or k.partition("_")[0] in CONFIG_SECTIONS}
    config = notebook_config(str(parameters.get("preset", "cpu")), **fields)
    d = config.data
    try:  # unknown paradigm or phenomenon names
        benchmarks.selected_paradigms(d)
    except TaskspaceError as exc:
        raise TaskspaceError(f"notebook parameters: {exc}") from None
    for key in ("size", "baseline_size"):
        if parameters.get(key) is not None:
            try:
                config.size(str(parameters[key]))
            except TaskspaceError as exc:
                raise TaskspaceError(f"notebook parameter '{key}': {exc}") from None
    if parameters.get("checkpoint") is not None:
        try:
            checkpoint_epoch(config, parameters["checkpoint"])
        except TaskspaceError as exc:
            raise TaskspaceError(f"notebook parameter 'checkpoint': {exc}") from None
    earlier = parameters.get("earlier_preset")
    if earlier and (earlier not in PRESETS or earlier == config.preset):
        raise TaskspaceError(f"notebook parameter 'earlier_preset': {earlier!r} is not another shipped preset "
                             f"(choose from {', '.join(p for p in PRESETS if p != config.preset)}, or \"\" for none)")


def _literal(text: str):
    """A command-line value as Python: ``1e-2``, ``[0, 1]``, ``None`` literally, else YAML (``true``, ``tiny``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return yaml.safe_load(text)


def run_notebook(name: str, pairs: list[tuple[str, str]], out: Path | None = None,
                 log: Callable[[str], None] = print, progress: bool = True, prepare_only: bool = False) -> Path:
    """Execute one notebook with papermill and ``-p`` overrides; return the executed ``.ipynb``.
    With ``progress``, a bar of executed cells and the cells' output as they run; with
    ``prepare_only``, the notebook with its parameters injected, not run."""
    repo_file("notebooks")  # the book's sources live in a clone, not in an installed wheel
    name = resolve_notebook(name)
    parameters = parse_parameters(name, pairs)
    out_dir = Path(out).parent if out else REPO_ROOT / "_build" / "run"
    executed = execute_notebook(name, out_dir, parameters, log, progress=progress and not prepare_only,
                                live_output=progress and not prepare_only, prepare_only=prepare_only)
    if out and executed != Path(out):
        executed = executed.replace(Path(out))
    return executed


def _reads_only(preset: str, results_dir: str) -> bool:
    """Whether the pages of ``preset`` read everything from complete committed results (nothing is
    computed, so they can run side by side; two pages pretraining one run at once would collide)."""
    return bool(results_dir) and is_complete(load_preset(preset, {"results_dir": results_dir}))


def _execute_pages(pages: list[tuple[str, Path, str]], parameters: dict, log: Callable[[str], None],
                   workers: int) -> None:
    """Execute every page ``(name, out_dir, folder)`` with :func:`execute_notebook`: one after
    another, or ``workers`` at a time, each from a process of its own (a page runs in its own
    kernel anyway; the processes only drive them). The first failure stops the build."""
    if workers <= 1:
        for name, out_dir, folder in pages:
            execute_notebook(name, out_dir, parameters, log, folder=folder, progress=sys.stderr.isatty())
        return
    log(f"executing {len(pages)} pages, {workers} at a time (the committed results are complete)")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        running = [pool.submit(_execute_page, name, out_dir, parameters, folder) for name, out_dir, folder in pages]
        try:
            for page in as_completed(running):
                log(page.result())
        finally:
            for page in running:
                page.cancel()


def _execute_page(name: str, out_dir: Path, parameters: dict, folder: str) -> str:
    """:func:`execute_notebook` in a worker process: returns its log line."""
    lines: list[str] = []
    execute_notebook(name, out_dir, parameters, lines.append, folder=folder)
    return lines[-1]


def build_book(preset: str, work_dir: str = "runs", out: Path | None = None, notebooks=NOTEBOOKS,
               log: Callable[[str], None] = print, results_dir: str = "results", workers: int | None = None) -> Path:
    """Execute the notebooks under ``preset`` and build the HTML book; return its index.html.

    The notebooks take task spaces from ``results_dir/<preset>`` (committed reference results)
    when they hold them, and otherwise from ``work_dir`` (computing what is missing). ``workers``
    pages execute at a time; by default :data:`PAGE_WORKERS` where the committed results are
    complete (nothing to compute), else one.
    """
    load_preset(preset)  # a bad preset fails here, before anything runs
    for source in ("notebooks", "book", *BOOK_FILES):
        repo_file(source)
    out = Path(out) if out else REPO_ROOT / "_build" / preset
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(REPO_ROOT / name, src / name)
    _stage_config(src / "_config.yml", github_origin())
    shutil.copytree(REPO_ROOT / "book", src / "book")
    results = shown_path(Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir) \
        if results_dir else ""
    parameters = {"preset": preset, "work_dir": shown_path(work_dir), "results_dir": results}
    for name in EXECUTED_CHAPTERS:
        (src / "book" / f"{name}.md").unlink()  # replaced by its executed .ipynb
    pages = [(name, src / "notebooks", "notebooks") for name in notebooks]
    pages += [(name, src / "book", "book") for name in EXECUTED_CHAPTERS]
    if workers is None:
        workers = PAGE_WORKERS if _reads_only(preset, results_dir) else 1
    _execute_pages(pages, parameters, log, workers)
    started = time.perf_counter()
    html = out / "html"
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--path-output", str(out),
               "-W", "-n", "--keep-going", "--quiet"]
    proc = subprocess.run(command, capture_output=True, text=True)
    built = out / "_build" / "html"
    if proc.returncode != 0 or not (built / "index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BookBuildError(f"jupyter-book build of {src} failed:\n{tail}")
    if html.exists():
        shutil.rmtree(html)
    built.rename(html)
    shutil.rmtree(out / "_build", ignore_errors=True)
    log(f"built the book in {time.perf_counter() - started:.0f}s -> {html / 'index.html'}")
    return html / "index.html"
