"""The ``taskspace`` commands: each parses its arguments, calls one library function and prints
what it returns; the work itself lives in the package. Each imports the package inside its
function, so that ``taskspace --help`` and a mistyped argument answer at once instead of after
torch loads (the one place allowed function-level imports: ``tests/test_architecture.py``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..errors import TaskspaceError
from .args import config_from_args


def cmd_data(args, extra) -> int:
    from ..config import DataConfig
    from ..corpora import benchmarks, blimp, pairs

    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)}")
    entries = tuple(e.strip() for e in args.benchmarks.split(",") if e.strip())
    names = benchmarks.phenomenon_names()
    for bench in benchmarks.benchmarks_of(DataConfig(benchmarks=entries)):
        data = DataConfig(blimp_dir=args.data_dir or "", taxonomy=args.taxonomy, benchmarks=(bench.name if
                          bench.folder is None else str(bench.folder),))
        paradigms = benchmarks.load_pairs(data)  # every record validated
        where = blimp.blimp_dir(args.data_dir) if bench.name == "blimp" else benchmarks.folder_of(bench)
        print(f"{benchmarks.title_of(bench)} at {where} (data hash {pairs.data_hash(paradigms)})")
        print(f"{'phenomenon':<8} {'name':<37} {'paradigms':>9} {'pairs':>7}")
        groups = benchmarks.phenomena_of(data)
        for abbr, members in groups.items():
            n_pairs = sum(len(paradigms[m].pairs) for m in members)
            print(f"{abbr:<8} {names.get(abbr, abbr):<37} {len(members):>9} {n_pairs:>7}")
        total = sum(len(p.pairs) for p in paradigms.values())
        print(f"{'total':<8} {f'{len(groups)} phenomena':<37} {len(paradigms):>9} {total:>7}\n")
    return 0


def cmd_sizes(args, extra) -> int:
    from ..lm.models import spec_parameters

    config = config_from_args(args, extra)
    print(f"preset {config.preset}: vocabulary {config.tokenizer.vocab_size}")
    for name, spec in config.sizes.items():
        n = spec_parameters(spec, config.tokenizer.vocab_size)
        print(f"  {name:<7} {n / 1e6:7.2f}M parameters  d_model={spec.d_model} n_layers={spec.n_layers} "
              f"n_heads={spec.n_heads} d_mlp={spec.d_mlp}")
    return 0


def _seeded(config, seeds: str | None) -> list:
    """``config`` once per pretraining seed of ``--seeds``: ``all`` (the preset's ``pretrain.seed``,
    then ``book.pretrain_seeds``), a comma list such as ``0,1,2``, or none (the preset's seed)."""
    from ..analysis.ladder import seeds_of
    from ..config import apply_overrides
    from ..errors import ConfigError

    if not seeds:
        return [config]
    if seeds == "all":
        chosen = seeds_of(config)
    else:
        try:
            chosen = list(dict.fromkeys(int(s) for s in seeds.split(",") if s.strip()))
        except ValueError:
            chosen = []
        if not chosen:
            raise ConfigError(f"--seeds: '{seeds}' is not 'all' or a comma list of integers")
    return [apply_overrides(config, {"pretrain.seed": seed}) for seed in chosen]


def cmd_pretrain(args, extra) -> int:
    config = config_from_args(args, extra)
    sizes = [args.size] if args.size else list(config.sizes)
    for size in sizes:
        config.size(size)  # validate every name before training anything
    if args.snapshot_minutes < 0:
        raise TaskspaceError(f"--snapshot-minutes {args.snapshot_minutes:g}: expected 0 (none) or more minutes")
    configs = _seeded(config, args.seeds)
    if args.out and len(configs) > 1:
        raise TaskspaceError("--out holds one seed's models; leave it out with several --seeds")
    from ..lm.identity import models_dir
    from ..lm.pretrain import pretrain  # heavy import (torch, transformers) after validation

    for seeded in configs:  # seed by seed, so that a cut-off run leaves whole ladders behind
        for size in sizes:
            if args.out:
                out = Path(args.out) if args.size else Path(args.out) / size
            else:
                out = models_dir(seeded.run_dir(), seeded, size)
            checkpoints = pretrain(seeded, size, out, snapshot_every_s=60 * args.snapshot_minutes or None)
            print(f"{seeded.preset}/{size} seed {seeded.pretrain.seed}: {len(checkpoints)} checkpoints in {out}: "
                  + ", ".join(c.name for c in checkpoints))
    return 0


def cmd_score(args, extra) -> int:
    if args.preset is None:
        args.preset = _model_preset(args.model)
    config = config_from_args(args, extra)
    names = [n.strip() for n in args.paradigms.split(",") if n.strip()] if args.paradigms else None
    from ..analysis.accuracy import paradigm_summary, phenomenon_summary
    from ..engine.blimp_scores import score_model

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
    typed = {f"ftgd.{name}": getattr(args, name) for name in ("threshold", "steps", "lr", "method")
             if getattr(args, name) is not None}
    config = config_from_args(args, extra, typed)
    from ..engine.probing import finetune_one

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


def _checkpoint_to_probe(args, config) -> tuple[str, str]:
    """``space`` and ``masks``: the model they probe (``--model``, or the preset's checkpoint of
    ``--size`` at ``--checkpoint``, pretrained if missing) and its store label."""
    from ..corpora import benchmarks

    benchmarks.selected_paradigms(config.data)  # unknown names fail before any work
    if args.model:
        return args.model, f"{config.preset}-{Path(args.model).name}"
    size = args.size or list(config.sizes)[-1]
    config.size(size)
    from ..lm.pretrain import ensure_checkpoint
    from ..results.keys import space_label

    model_path = ensure_checkpoint(config, size, args.checkpoint)
    return model_path, space_label(config, size, model_path)


def cmd_space(args, extra) -> int:
    config = config_from_args(args, extra)
    model_path, label = _checkpoint_to_probe(args, config)
    from ..analysis.report import analyse, describe, write_report
    from ..engine.compute import compute_space

    space = compute_space(config, model_path, args.revision, label, progress=not args.no_progress)
    analysis = analyse(space, config)
    paths = write_report(space, analysis, config)
    print(f"task space of {model_path}: " + describe(space, analysis, config))
    print(f"results in {space.store_dir}: " + ", ".join(p.name for p in paths.values()))
    return 0


def cmd_masks(args, extra) -> int:
    config = config_from_args(args, extra)
    model_path, label = _checkpoint_to_probe(args, config)
    from ..analysis.masks import overlap_within_between
    from ..engine.compute import compute_masks

    masks = compute_masks(config, model_path, args.revision, label, progress=not args.no_progress)
    within, between = overlap_within_between(masks.mask_overlap, masks.phenomena)
    print(f"FTGD masks of {model_path}, {len(masks.paradigms)} paradigms: mask share "
          f"{masks.mask_share.mean():.2%} on average, {masks.mask_union_share:.1%} of the parameters in "
          f"at least one mask; Jaccard overlap within phenomena {within:.3f}, between {between:.3f}")
    print(f"results in {masks.store_dir}")
    return 0


def _notebook_device(args) -> None:
    """``--device`` of ``book`` and ``run``: checked here, then handed to the notebook kernels."""
    if args.device:
        from ..book.notebook import DEVICE_VARIABLE
        from ..config import check_device

        os.environ[DEVICE_VARIABLE] = check_device(args.device)  # a bad name fails here, in one line


def cmd_book(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)} (notebook parameters: see book/reproducing.md)")
    from ..book.build import build_book

    _notebook_device(args)
    if args.read_only:
        from ..errors import READ_ONLY_VARIABLE

        os.environ[READ_ONLY_VARIABLE] = "1"  # the notebook kernels inherit it
    started = time.perf_counter()
    index = build_book(args.preset, args.work_dir, Path(args.out) if args.out else None)
    print(f"book ({args.preset}) built in {time.perf_counter() - started:.0f}s: {index}")
    return 0


def cmd_reproduce(args, extra) -> int:
    config = config_from_args(args, extra)
    from ..plan.reproduce import reproduce

    started = time.perf_counter()
    log = lambda message: print(message, flush=True)  # noqa: E731  (a log file sees each line at once)
    only = _plan_numbers(args.spaces) if args.spaces else (set() if args.mask_sets else None)
    problems = reproduce(config, log=log, only=only, mask_sets=True if args.mask_sets else None)
    print(f"reproduce ({config.preset}) finished in {time.perf_counter() - started:.0f}s: "
          f"{config.reference_dir()}", flush=True)
    if only is not None:  # the spaces (and mask sets) left out on purpose are still to do, not problems
        pending = [p for p in problems if p.request is not None]
        problems = [p for p in problems if p.request is None]
        for problem in pending:
            print(f"  still to compute: {problem.request.describe()} [{problem.request.purpose}]")
    for problem in problems:
        print(f"  problem: {problem}")
    if problems:
        return 1
    if args.book:
        from ..book.build import build_book

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

    from ..config import to_dict

    config = config_from_args(args, extra)
    print(f"# preset {config.preset}, resolved (overrides applied)")
    print(yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True), end="")
    return 0


def cmd_results(args, extra) -> int:
    config = config_from_args(args, extra)
    from ..plan.checks import check_results, committed, mask_table, memoise_results, plan_table

    masks = mask_table(config)
    if args.plan:
        print(f"the plan of {config.preset} (`taskspace reproduce --spaces` takes these numbers; "
              "* = committed):")
        for number, row in plan_table(config).iterrows():
            print(f"{number:>4} {'*' if row.committed else ' '} {row.space}  [{row.purpose}]")
        if len(masks):
            print("and its mask sets (`taskspace reproduce --mask-sets`):")
            for number, row in masks.iterrows():
                print(f"{f'm{number}':>4} {'*' if row.committed else ' '} {row['mask set']}  [{row.purpose}]")
    if args.fill_memo:
        memoise_results(config, fill=True)
    problems = check_results(config) + memoise_results(config)
    done = committed(config)
    sets = f", {len(masks)} mask sets expected, {int(masks.committed.sum())} committed" if len(masks) else ""
    print(f"{config.reference_dir()}: {len(done)} task spaces expected, {sum(done.values())} committed{sets}; "
          + ("complete, every hash matches" if not problems else f"{len(problems)} problem(s):"))
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


def cmd_slides(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)}")
    from ..book.slides import build_slides
    from ..config import load_preset

    load_preset(args.preset)  # a bad preset fails here, in one line
    started = time.perf_counter()
    index = build_slides(args.preset, Path(args.out) if args.out else None, args.work_dir)
    print(f"slides ({args.preset}) built in {time.perf_counter() - started:.0f}s: {index}")
    return 0


def cmd_accuracy(args, extra) -> int:
    config = config_from_args(args, extra)
    sizes = [args.size] if args.size else list(config.sizes)
    for size in sizes:
        config.size(size)
    from ..engine.blimp_scores import export_accuracy

    for seeded in _seeded(config, args.seeds):
        table = export_accuracy(seeded, sizes, args.checkpoint)
        if table is not None:
            print(f"BLiMP test accuracy (mean over paradigms) of seed {seeded.pretrain.seed} beside BLiMP's "
                  "baselines (Warstadt et al. 2020):")
            print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    if len(sizes) > 1:
        from ..analysis.ladder import LADDER_TARGETS, is_ladder, ladder_table

        ladder = ladder_table(config)
        if len(ladder) > 1:
            print(f"\nThe size ladder at the final checkpoint, every pretraining seed with a record ({LADDER_TARGETS}):")
            print(ladder.to_string(float_format=lambda v: f"{v:.4f}", na_rep=""))
            print("a ladder: every step meets both targets" if is_ladder(ladder) else
                  "not a ladder: a step misses a target")
    return 0


def cmd_run(args, extra) -> int:
    if extra:
        raise TaskspaceError(f"unrecognised arguments: {' '.join(extra)} (parameters go as -p NAME VALUE)")
    from ..book.build import run_notebook

    _notebook_device(args)
    executed = run_notebook(args.notebook, [tuple(p) for p in args.parameter], args.out,
                            prepare_only=args.prepare_only)
    print(f"{'prepared' if args.prepare_only else 'executed'} notebook: {executed}")
    return 0

