"""The ``taskspace`` command.

    taskspace data     [--data-dir D] [--taxonomy 12|13]
    taskspace sizes    [--preset P]
    taskspace pretrain --preset P [--size S] [--out DIR] [--data-dir D] [--section.field VALUE ...]
    taskspace score    --model DIR --out FILE.csv [--paradigms a,b] [--max-pairs N]
                       [--split test|train|all] [--preset P] [--data-dir D] [--section.field VALUE ...]
    taskspace ftgd     --model DIR --paradigm NAME --out DIR [--threshold T] [--steps N] [--lr LR]
                       [--method ftgd|plain] [--eval all|self] [--preset P] [--section.field VALUE ...]
    taskspace space    --preset P [--size S] [--checkpoint final|EPOCH] [--model DIR [--revision R]]
                       [--section.field VALUE ...]        e.g. --ftgd.threshold 1e-3 --space.metric accuracy
    taskspace book     [--preset P] [--work-dir DIR] [--out DIR] [--device D]  execute the notebooks, build the book
                       (default preset cpu: renders the committed reference results in results/cpu)
    taskspace reproduce --preset P [--book] [--section.field VALUE ...]
                       pretrain, compute every space the book needs, export each into results/<P>
    taskspace results  [--preset P]                       check the committed results: complete, hashes match
    taskspace slides   [--preset P] [--out DIR]           a reveal.js deck of the key figures and numbers (offline)
    taskspace run      NOTEBOOK [-p NAME VALUE ...] [--out FILE.ipynb] [--device D]  re-execute one notebook

Every command that computes takes ``--device cpu|cuda|cuda:N|mps|auto``; ``space``
and ``reproduce`` take ``--workers N`` (a Dask LocalCluster) or ``--scheduler ADDRESS`` (an
existing Dask cluster) for the per-paradigm jobs (``pip install 'taskspace[distributed]'``).

Each ``cmd_*`` parses its arguments, calls one library function and prints what it returns;
the work itself lives in the package (``accuracy.score_model``, ``probing.finetune_one``,
``task_space.compute_space``, ``experiments.reproduce``, ...). Most of this module's length is the
argument parser. Commands import the package lazily, inside each ``cmd_*``, so that
``taskspace --help`` and a mistyped argument answer at once instead of after torch loads; this is
the one module allowed function-level imports of the package (``tests/test_architecture.py``).

Bad input (unknown paradigm, phenomenon, preset, size or config field; a value of the wrong
type or out of range; an unreadable or non-causal-LM model directory; a malformed data file; a
full or read-only output directory) ends with a one-line ``taskspace: error: ...`` and exit
status 2, before anything is written (or, for a disk that fills up mid-run, keeping every
finished result).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import time
from pathlib import Path

from .errors import TaskspaceError

EXIT_USER_ERROR = 2
_STORAGE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def _add_config_args(parser: argparse.ArgumentParser, preset_required: bool) -> None:
    parser.add_argument("--preset", required=preset_required, default=None,
                        help="ci, tiny, cpu-v1, cpu or paper")
    parser.add_argument("--data-dir", default=None, help="another copy of BLiMP (sets data.blimp_dir): a directory of "
                        "BLiMP files, or hf:nyu-mll/blimp / hf:DIR through Hugging Face datasets")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:N, mps or auto, for pretraining, scoring and fine-tuning")
    parser.add_argument("--workers", default=None,
                        help="run the per-paradigm jobs on a Dask LocalCluster of N worker processes")
    parser.add_argument("--scheduler", default=None,
                        help="run the per-paradigm jobs on the Dask cluster at ADDRESS (tcp://host:8786)")


def _add_model_args(parser: argparse.ArgumentParser, required: bool, help_text: str) -> None:
    parser.add_argument("--model", required=required, default=None, help=help_text)
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit) of --model")


def _config(args, extra: list[str], default_preset: str = "cpu"):
    from .config import load_preset, parse_dotted_args

    overrides = parse_dotted_args(extra)
    if args.data_dir:
        overrides["data.blimp_dir"] = args.data_dir
    if getattr(args, "device", None):
        overrides["device"] = args.device
    if getattr(args, "workers", None) or getattr(args, "scheduler", None):
        overrides["space.executor"] = "dask"
        if args.workers:
            overrides["space.workers"] = args.workers
        if args.scheduler:
            overrides["space.scheduler"] = args.scheduler
    return load_preset(args.preset or default_preset, overrides)


def cmd_data(args, extra) -> int:
    from .corpora import blimp

    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)}")
    paradigms = blimp.load_blimp(args.data_dir)
    names = blimp.phenomenon_names()
    print(f"BLiMP at {blimp.blimp_dir(args.data_dir)} (data hash {blimp.data_hash(paradigms)})")
    print(f"{'phenomenon':<8} {'name':<26} {'paradigms':>9} {'pairs':>7}")
    for abbr, uids in blimp.phenomena(args.taxonomy).items():
        n_pairs = sum(len(paradigms[u].pairs) for u in uids)
        print(f"{abbr:<8} {names[abbr]:<26} {len(uids):>9} {n_pairs:>7}")
    n_groups = len(blimp.phenomena(args.taxonomy))
    total = sum(len(p.pairs) for p in paradigms.values())
    print(f"{'total':<8} {f'{n_groups} phenomena':<26} {len(paradigms):>9} {total:>7}")
    return 0


def cmd_sizes(args, extra) -> int:
    from .lm.models import spec_parameters

    config = _config(args, extra)
    print(f"preset {config.preset}: vocabulary {config.tokenizer.vocab_size}")
    for name, spec in config.sizes.items():
        n = spec_parameters(spec, config.tokenizer.vocab_size)
        print(f"  {name:<7} {n / 1e6:7.2f}M parameters  d_model={spec.d_model} n_layers={spec.n_layers} "
              f"n_heads={spec.n_heads} d_mlp={spec.d_mlp}")
    return 0


def cmd_pretrain(args, extra) -> int:
    config = _config(args, extra)
    sizes = [args.size] if args.size else list(config.sizes)
    for size in sizes:
        config.size(size)  # validate every name before training anything
    from .lm.pretrain import models_dir, pretrain  # heavy import (torch, transformers) after validation

    for size in sizes:
        if args.out:
            out = Path(args.out) if args.size else Path(args.out) / size
        else:
            out = models_dir(config.run_dir(), config, size)
        checkpoints = pretrain(config, size, out)
        print(f"{config.preset}/{size}: {len(checkpoints)} checkpoints in {out}: "
              + ", ".join(c.name for c in checkpoints))
    return 0


def cmd_score(args, extra) -> int:
    if args.preset is None:
        args.preset = _model_preset(args.model)
    config = _config(args, extra)
    names = [n.strip() for n in args.paradigms.split(",") if n.strip()] if args.paradigms else None
    from .engine.accuracy import score_model
    from .engine.scoring import paradigm_summary, phenomenon_summary

    scores, meta = score_model(config, args.model, args.out, args.revision, names, args.split, args.max_pairs)
    out, taxonomy = Path(args.out), config.data.taxonomy
    print(f"{len(scores)} pairs from {len(meta['paradigms'])} paradigms scored in {meta['wall_time_s']:.1f}s "
          f"(bos={config.scoring.bos})")
    print(phenomenon_summary(scores, taxonomy).to_string(float_format=lambda x: f"{x:.3f}"))
    overall = paradigm_summary(scores, taxonomy).accuracy.mean()
    print(f"mean accuracy over paradigms: {overall:.3f}  ->  {out} (+ {out.stem}.meta.json)")
    return 0


def _model_preset(model: str) -> str | None:
    """The preset a checkpoint of ours was trained under (its BLiMP split is then the default)."""
    meta_file = Path(model) / "meta.json"
    if meta_file.is_file():
        return json.loads(meta_file.read_text()).get("preset")
    return None


def cmd_ftgd(args, extra) -> int:
    if args.preset is None:
        args.preset = _model_preset(args.model)
    for name in ("threshold", "steps", "lr", "method"):
        if getattr(args, name) is not None:
            extra = extra + [f"--ftgd.{name}", str(getattr(args, name))]
    config = _config(args, extra)
    from .engine.probing import finetune_one

    scores, result, wall = finetune_one(config, args.model, args.paradigm, args.out, args.revision,
                                        evaluate_all=args.eval == "all")
    summary = scores.assign(before=scores.logp_good_before > scores.logp_bad_before,
                            after=scores.logp_good_after > scores.logp_bad_after,
                            margin_change=(scores.logp_good_after - scores.logp_bad_after)
                            - (scores.logp_good_before - scores.logp_bad_before))
    table = summary.groupby("paradigm")[["before", "after", "margin_change"]].mean()
    f = config.ftgd
    print(f"{f.method} on {args.paradigm}: {f.steps} steps, lr {f.lr:g}, {f.optimizer}, objective {f.objective}; "
          f"{result.n_masked:,} of {result.n_parameters:,} parameters updated ({result.mask_share:.2%}) "
          f"in {wall:.1f}s")
    print(f"accuracy before -> after ({args.eval}):")
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"tuned model, scores.csv, mask_stats.csv and ftgd.json -> {args.out}")
    return 0


def cmd_space(args, extra) -> int:
    config = _config(args, extra)
    from .corpora import blimp

    d = config.data
    blimp.selected_paradigms(d.paradigms, d.phenomena, d.taxonomy)  # unknown names fail before any work
    if args.model:
        model_path, label = args.model, f"{config.preset}-{Path(args.model).name}"
    else:
        size = args.size or list(config.sizes)[-1]
        config.size(size)
        from .lm.checkpoints import checkpoint_dir
        from .results.committed import space_label

        model_path = checkpoint_dir(config, size, args.checkpoint)
        label = space_label(config, size, model_path)
    from .engine.task_space import compute_space
    from .analysis.report import analyse, describe, write_report

    space = compute_space(config, model_path, args.revision, label, progress=not args.no_progress)
    analysis = analyse(space, config)
    paths = write_report(space, analysis, config)
    print(f"task space of {model_path}: " + describe(space, analysis, config))
    print(f"results in {space.store_dir}: " + ", ".join(p.name for p in paths.values()))
    return 0


def _notebook_device(args) -> None:
    """``--device`` of ``book`` and ``run``: checked here, then handed to the notebook kernels."""
    if args.device:
        from .config import check_device
        from .book.notebook import DEVICE_VARIABLE

        os.environ[DEVICE_VARIABLE] = check_device(args.device)  # a bad name fails here, in one line


def cmd_book(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)} (notebook parameters: see book/reproducing.md)")
    from .book.build import build_book

    _notebook_device(args)

    started = time.perf_counter()
    index = build_book(args.preset, args.work_dir, Path(args.out) if args.out else None)
    print(f"book ({args.preset}) built in {time.perf_counter() - started:.0f}s: {index}")
    return 0


def cmd_reproduce(args, extra) -> int:
    config = _config(args, extra)
    from .plan.experiments import reproduce

    started = time.perf_counter()
    log = lambda message: print(message, flush=True)  # noqa: E731  (a log file sees each line at once)
    problems = reproduce(config, log=log, only=_plan_numbers(args.spaces) if args.spaces else None)
    print(f"reproduce ({config.preset}) finished in {time.perf_counter() - started:.0f}s: "
          f"{config.reference_dir()}", flush=True)
    if args.spaces:  # the spaces left out on purpose are still to do, not problems
        pending = [p for p in problems if ": no task space for " in p]
        problems = [p for p in problems if p not in pending]
        for line in pending:
            print(f"  still to compute: {line.split(': no task space for ', 1)[1]}")
    for problem in problems:
        print(f"  problem: {problem}")
    if problems:
        return 1
    if args.book:
        from .book.build import build_book

        build_book(config.preset, config.work_dir, log=log)
    return 0


def _plan_numbers(text: str) -> set[int]:
    """``"10,16,22-25"`` -> {10, 16, 22, 23, 24, 25}: the ``--spaces`` of ``taskspace reproduce``."""
    numbers = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            numbers.update(range(int(first), int(last or first) + 1))
        except ValueError:
            raise TaskspaceError(f"--spaces {text!r}: use plan numbers such as 10,16,22-25") from None
    return numbers


def cmd_config(args, extra) -> int:
    import yaml

    from .config import to_dict

    config = _config(args, extra)
    print(f"# preset {config.preset}, resolved (overrides applied)")
    print(yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True), end="")
    return 0


def cmd_results(args, extra) -> int:
    config = _config(args, extra)
    from .plan.experiments import check_results, committed, memoise_results, plan_table

    if args.plan:
        print(f"the plan of {config.preset} (`taskspace reproduce --spaces` takes these numbers; "
              "* = committed):")
        for number, row in plan_table(config).iterrows():
            print(f"{number:>4} {'*' if row.committed else ' '} {row.space}  [{row.purpose}]")
    if args.fill_memo:
        memoise_results(config, fill=True)
    problems = check_results(config) + memoise_results(config)
    done = committed(config)
    print(f"{config.reference_dir()}: {len(done)} task spaces expected, {sum(done.values())} committed; "
          + ("complete, every hash matches" if not problems else f"{len(problems)} problem(s):"))
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


def cmd_slides(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)}")
    from .config import load_preset
    from .book.slides import build_slides

    load_preset(args.preset)  # a bad preset fails here, in one line
    started = time.perf_counter()
    index = build_slides(args.preset, Path(args.out) if args.out else None, args.work_dir)
    print(f"slides ({args.preset}) built in {time.perf_counter() - started:.0f}s: {index}")
    return 0


def cmd_accuracy(args, extra) -> int:
    config = _config(args, extra)
    sizes = [args.size] if args.size else list(config.sizes)
    for size in sizes:
        config.size(size)
    from .engine.accuracy import export_accuracy

    table = export_accuracy(config, sizes, args.checkpoint)
    if table is not None:
        print("BLiMP test accuracy (mean over paradigms) beside BLiMP's baselines (Warstadt et al. 2020):")
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


def cmd_run(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)} (parameters go as -p NAME VALUE)")
    from .book.build import run_notebook

    _notebook_device(args)
    executed = run_notebook(args.notebook, [tuple(p) for p in args.parameter], args.out,
                            prepare_only=args.prepare_only)
    print(f"{'prepared' if args.prepare_only else 'executed'} notebook: {executed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="taskspace", description="Task spaces of language models.")
    parser.add_argument("--version", action="version", version=f"taskspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("config", help="print a preset's resolved config, with overrides, as YAML")
    _add_config_args(p, preset_required=False)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("data", help="validate BLiMP and print paradigms and pairs per phenomenon")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--taxonomy", choices=("12", "13"), default="12")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("sizes", help="print the size registry of a preset")
    _add_config_args(p, preset_required=False)
    p.set_defaults(func=cmd_sizes)

    p = sub.add_parser("pretrain", help="pretrain one or all sizes of a preset (resumes)")
    _add_config_args(p, preset_required=True)
    p.add_argument("--size", default=None, help="one size of the preset (default: all)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<preset>/models/<size>)")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("score", help="score BLiMP minimal pairs with a model")
    _add_config_args(p, preset_required=False)
    _add_model_args(p, True, "model directory, or hub name with --revision")
    p.add_argument("--out", required=True, help="CSV file, one row per pair")
    p.add_argument("--paradigms", default=None, help="comma-separated paradigm names (default: all 67)")
    p.add_argument("--max-pairs", type=int, default=0, help="at most N pairs per paradigm")
    p.add_argument("--split", choices=("test", "train", "all"), default="test")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("ftgd", help="fine-tune a model on one paradigm (FTGD or plain) and score it")
    _add_config_args(p, preset_required=False)
    _add_model_args(p, True, "model directory, or hub name with --revision")
    p.add_argument("--paradigm", required=True, help="the BLiMP paradigm to fine-tune on")
    p.add_argument("--out", required=True, help="directory for the tuned model and its statistics")
    p.add_argument("--threshold", type=float, default=None, help="sets ftgd.threshold")
    p.add_argument("--steps", type=int, default=None, help="sets ftgd.steps")
    p.add_argument("--lr", type=float, default=None, help="sets ftgd.lr")
    p.add_argument("--method", choices=("ftgd", "plain"), default=None, help="sets ftgd.method")
    p.add_argument("--eval", choices=("self", "all"), default="self",
                   help="score the tuned paradigm only (default) or all 67 before and after")
    p.set_defaults(func=cmd_ftgd)

    p = sub.add_parser("space", help="compute (or load) the task space of one checkpoint")
    _add_config_args(p, preset_required=True)
    p.add_argument("--size", default=None, help="model size (default: the largest of the preset)")
    p.add_argument("--checkpoint", default="final", help="'final' or an epoch of pretrain.checkpoints")
    _add_model_args(p, False, "any HF causal LM instead of the preset's checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_space)

    p = sub.add_parser("book", help="execute the notebooks (papermill) and build the Jupyter Book")
    p.add_argument("--preset", default="cpu",
                   help="whose results the book shows (default: cpu, the committed reference results)")
    p.add_argument("--work-dir", default="runs", help="where models and results are (default: runs)")
    p.add_argument("--out", default=None, help="output folder (default: _build/<preset>)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto, for whatever the notebooks compute")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("slides", help="render a short reveal.js deck of the key figures and numbers (offline)")
    p.add_argument("--preset", default="cpu", help="whose results the deck shows (default: cpu, the committed ones)")
    p.add_argument("--work-dir", default="runs", help="where models and results are (default: runs)")
    p.add_argument("--out", default=None, help="output folder (default: _build/slides/<preset>)")
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("reproduce", help="compute and export the reference results of a preset (resumes)")
    _add_config_args(p, preset_required=True)
    p.add_argument("--book", action="store_true", help="build the book afterwards")
    p.add_argument("--spaces", default="", help="only these spaces of the plan, by number, e.g. 10,16,22-25 "
                                                "(`taskspace results --plan` lists them; default: all)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("accuracy", help="score checkpoints on every paradigm's test split into results/<preset>, "
                                        "and print their accuracy beside BLiMP's baselines")
    _add_config_args(p, preset_required=True)
    p.add_argument("--size", default=None, help="one size of the preset (default: all)")
    p.add_argument("--checkpoint", default="all", help="'all' finished checkpoints (default), 'final' or an epoch")
    p.set_defaults(func=cmd_accuracy)

    p = sub.add_parser("results", help="check that a preset's committed results are complete and intact")
    _add_config_args(p, preset_required=False)
    p.add_argument("--plan", action="store_true", help="list the preset's planned task spaces, numbered, first")
    p.add_argument("--fill-memo", action="store_true",
                   help="compute the committed spaces' Mantel tests into results/<preset>/memo.json first")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("run", help="re-execute one notebook with papermill parameters")
    p.add_argument("notebook", help="rq1, rq2, rq3, critique, or a full notebook name")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a parameter of the notebook's parameters cell (repeatable)")
    p.add_argument("--out", default=None, help="executed notebook (default: _build/run/<notebook>.ipynb)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto, for whatever the notebook computes")
    p.add_argument("--prepare-only", action="store_true",
                   help="check the parameters and write the notebook with them injected, without running it (as papermill's flag)")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        code = args.func(args, extra)
        sys.stdout.flush()  # a reader that went away shows here, in the handler below, not at interpreter exit
        return code
    except TaskspaceError as exc:
        print(f"taskspace: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # whoever read our output stopped (`taskspace results | head`): quit as Unix tools do on
        # SIGPIPE, quietly; stdout goes to devnull so that flushing it at exit raises nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRORS:
            raise
        # a full, read-only or forbidden output location: every finished file was written
        # atomically and stays; nothing half-written is left behind
        where = exc.filename or "the output directory"
        print(f"taskspace: error: cannot write {where}: {exc.strerror or exc}; finished results are kept, "
              "free space or choose a writable --work-dir/--out and rerun to resume", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("taskspace: interrupted; finished checkpoints and files are kept, "
              "rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
