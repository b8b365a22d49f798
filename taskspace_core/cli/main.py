"""The ``taskspace`` command line: the parser of every command, and ``main``.

Bad input ends with a one-line ``taskspace: error: ...`` and exit status 2, before anything is
written (or, for a disk that fills up mid-run, keeping every finished result).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from .. import __version__
from ..errors import TaskspaceError
from .args import add_config_args, add_model_args
from .commands import (
    cmd_accuracy, cmd_book, cmd_config, cmd_data, cmd_ftgd, cmd_masks, cmd_pretrain, cmd_reproduce,
    cmd_results, cmd_run, cmd_score, cmd_sizes, cmd_slides, cmd_space,
)

EXIT_USER_ERROR = 2
_STORAGE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
SEEDS_HELP = ("pretraining seeds: 'all' (pretrain.seed, then book.pretrain_seeds) or a comma list such as 0,1,2 "
              "(default: pretrain.seed)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskspace", description="Task spaces of language models.")
    parser.add_argument("--version", action="version", version=f"taskspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("config", help="print a preset's resolved config, with overrides, as YAML")
    add_config_args(p, preset_required=False)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("data", help="validate the minimal-pair benchmarks and print paradigms and pairs per phenomenon")
    p.add_argument("--benchmarks", default="blimp,zorro,clams",
                   help="comma-separated: blimp, zorro, clams, or folders of your own pairs (default: the three shipped)")
    p.add_argument("--data-dir", default=None, help="another copy of BLiMP")
    p.add_argument("--taxonomy", choices=("12", "13"), default="12")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("sizes", help="print the size registry of a preset")
    add_config_args(p, preset_required=False)
    p.set_defaults(func=cmd_sizes)

    _add_model_commands(sub)
    _add_book_commands(sub)
    return parser


def _add_model_commands(sub) -> None:
    """The commands that train, score or fine-tune a model, or compute one task space."""
    p = sub.add_parser("pretrain", help="pretrain one or all sizes of a preset (resumes)")
    add_config_args(p, preset_required=True)
    p.add_argument("--size", default=None, help="one size of the preset (default: all)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<preset>/models/<size>)")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP)
    p.add_argument("--snapshot-minutes", type=float, default=10.0,
                   help="save a resume snapshot every this many minutes of training between checkpoints, so "
                        "that a run cut off between two resumes where it was (0: none; default 10)")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("score", help="score BLiMP minimal pairs with a model")
    add_config_args(p, preset_required=False)
    add_model_args(p, True, "model directory, or hub name with --revision")
    p.add_argument("--out", required=True, help="CSV file, one row per pair")
    p.add_argument("--paradigms", default=None, help="comma-separated paradigm names (default: all 67)")
    p.add_argument("--max-pairs", type=int, default=0, help="at most N pairs per paradigm")
    p.add_argument("--split", choices=("test", "train", "all"), default="test")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("ftgd", help="fine-tune a model on one paradigm (FTGD or plain) and score it")
    add_config_args(p, preset_required=False)
    add_model_args(p, True, "model directory, or hub name with --revision")
    p.add_argument("--paradigm", required=True, help="the BLiMP paradigm to fine-tune on")
    p.add_argument("--out", required=True, help="directory for the tuned model and its statistics")
    p.add_argument("--threshold", type=float, default=None, help="sets ftgd.threshold")
    p.add_argument("--steps", type=int, default=None, help="sets ftgd.steps")
    p.add_argument("--lr", type=float, default=None, help="sets ftgd.lr")
    p.add_argument("--method", choices=("ftgd", "plain"), default=None, help="sets ftgd.method")
    p.add_argument("--eval", choices=("self", "all"), default="self",
                   help="score the tuned paradigm only (default) or all 67 before and after")
    p.set_defaults(func=cmd_ftgd)

    for name, func, text in (("space", cmd_space, "compute (or load) the task space of one checkpoint"),
                             ("masks", cmd_masks, "compute (or load) every paradigm's FTGD mask of one checkpoint, "
                                                  "without fine-tuning or eval2")):
        p = sub.add_parser(name, help=text)
        add_config_args(p, preset_required=True)
        p.add_argument("--size", default=None, help="model size (default: the largest of the preset)")
        p.add_argument("--checkpoint", default="final", help="'final' or an epoch of pretrain.checkpoints")
        add_model_args(p, False, "any HF causal LM instead of the preset's checkpoint")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=func)


def _add_book_commands(sub) -> None:
    """The commands that build the book and the deck, and compute, check or re-run its results."""
    p = sub.add_parser("book", help="execute the notebooks (papermill) and build the Jupyter Book")
    p.add_argument("--preset", default="cpu",
                   help="whose results the book shows (default: cpu, the committed reference results)")
    p.add_argument("--work-dir", default="runs", help="where models and results are (default: runs)")
    p.add_argument("--out", default=None, help="output folder (default: _build/<preset>)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto, for whatever the notebooks compute")
    p.add_argument("--read-only", action="store_true",
                   help="read results only: a page whose task space or checkpoint is missing fails, nothing is trained")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("slides", help="render a short reveal.js deck of the key figures and numbers (offline)")
    p.add_argument("--preset", default="cpu", help="whose results the deck shows (default: cpu, the committed ones)")
    p.add_argument("--work-dir", default="runs", help="where models and results are (default: runs)")
    p.add_argument("--out", default=None, help="output folder (default: _build/slides/<preset>)")
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("reproduce", help="compute and export the reference results of a preset (resumes)")
    add_config_args(p, preset_required=True)
    p.add_argument("--book", action="store_true", help="build the book afterwards")
    p.add_argument("--spaces", default="", help="only these spaces of the plan, by number, e.g. 10,16,22-25 "
                                                "(`taskspace results --plan` lists them; default: all)")
    p.add_argument("--mask-sets", action="store_true", help="only the plan's mask sets (with --spaces: those spaces, "
                                                             "then the mask sets); `taskspace results --plan` lists them")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("accuracy", help="score checkpoints on every paradigm's test split into results/<preset>, "
                                        "and print their accuracy beside BLiMP's baselines")
    add_config_args(p, preset_required=True)
    p.add_argument("--size", default=None, help="one size of the preset (default: all)")
    p.add_argument("--checkpoint", default="all", help="'all' finished checkpoints (default), 'final' or an epoch")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP)
    p.set_defaults(func=cmd_accuracy)

    p = sub.add_parser("results", help="check that a preset's committed results are complete and intact")
    add_config_args(p, preset_required=False)
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

