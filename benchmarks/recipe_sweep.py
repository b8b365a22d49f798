"""Short pretraining sweeps that choose a preset's recipe on validation loss (never on BLiMP).

    python benchmarks/recipe_sweep.py --preset cpu --size small --name lr \\
        --base pretrain.epochs=0.1 --variant pretrain.lr=1e-3 --variant pretrain.lr=2e-3 ...

Each variant is the preset with ``--base`` and then its own dotted overrides
(``key=value,key=value``), pretrained from scratch in a scratch work dir (the real
``taskspace_core.pretrain`` loop, schedule and all) with checkpoints at the start and the end.
A run longer than a session takes ``--resume-every E``: a checkpoint every E epochs (they do
not change the run; a resumed run is bit-identical) in a scratch dir named by the variant and
kept until the variant is recorded, so the same command started again goes on from the newest.
``--keep-runs`` is for a sweep at the real run's length: each variant keeps the preset's own
checkpoint schedule (pretraining's resume snapshots carry it across sessions) and its run stays
in ``<work dir>/variant-<name>-<key>/model`` after it is recorded, so that the variant the sweep
chooses, trained with the preset's recipe, is the preset's own run (same run hash): move it to
``runs/<preset>/models/<size>`` instead of training it again.
Recorded per variant: validation loss in nats per token on the held-out books (the
preset's ``tokenizer.val_books``, ``pretrain.val_blocks`` blocks), the same in bits per byte
of text (comparable across vocabulary sizes), tokens seen, wall time and tokens/s. Results go
to ``benchmarks/results/recipe_sweep_<preset>_<name>.json`` with provenance, one variant at a
time, so an interrupted sweep resumes with the variants it has not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

from transformers import AutoTokenizer

from taskspace_core.config import apply_overrides, load_preset, to_dict
from taskspace_core.corpora.books import prepare_corpus
from taskspace_core.lm.checkpoints import expected_pretrain_hash
from taskspace_core.lm.identity import models_dir
from taskspace_core.lm.pretrain import pretrain, validation_blocks
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def parse_overrides(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    return {key.strip(): value.strip() for key, value in pairs}


def bytes_per_token(config) -> float:
    """UTF-8 bytes per predicted token over the validation blocks the run scores."""
    corpus = prepare_corpus(config, log=lambda *_: None)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_dir)
    blocks = validation_blocks(corpus.val_tokens, config.pretrain)[:, 1:]
    n_bytes = sum(len(tokenizer.decode(row.tolist()).encode("utf-8")) for row in blocks)
    return n_bytes / blocks.numel()


def resume_points(epochs: float, every: float) -> str:
    """``0,…,epochs`` in equal steps of at most ``every`` epochs (``0,epochs`` if ``every`` is 0)."""
    n = math.ceil(epochs / every - 1e-9) if every > 0 else 1
    return ",".join(f"{epochs * i / n:g}" for i in range(n + 1))


def run_variant(config, size: str, scratch: Path, log=lambda *_: None) -> dict:
    """Pretrain one variant into ``scratch`` (``log``: pretraining's progress lines, none by default)."""
    bpt = bytes_per_token(config)  # (first: a tokenizer problem shows before the training)
    started = time.perf_counter()
    done = pretrain(config, size, scratch / "model", log=log)
    wall = time.perf_counter() - started
    metas = [json.loads((d / "meta.json").read_text()) for d in done]
    last = metas[-1]
    return {"val_loss": last["val_loss"], "val_bits_per_byte": last["val_loss"] / math.log(2) / bpt,
            "bytes_per_token": bpt, "tokens_seen": last["tokens_seen"], "n_parameters": last["n_parameters"],
            "train_wall_s": last["wall_time_s"], "total_wall_s": round(wall, 1),
            "tokens_per_s": last["tokens_seen"] / max(last["wall_time_s"], 1e-9), "pretrain_hash": last["pretrain_hash"],
            "curve": [{"tokens": m["tokens_seen"], "val_loss": m["val_loss"]} for m in metas]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--size", default="small")
    parser.add_argument("--name", required=True, help="names the results file")
    parser.add_argument("--base", default="", help="overrides every variant shares: key=value,key=value")
    parser.add_argument("--variant", action="append", required=True, help="one variant's overrides")
    parser.add_argument("--work-dir", type=Path, default=None, help="keeps tokenizers between sweeps")
    parser.add_argument("--resume-every", type=float, default=0.0,
                        help="a checkpoint every this many epochs, to resume a long variant in another session")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default benchmarks/results/recipe_sweep_<preset>_<name>.json)")
    parser.add_argument("--keep-runs", action="store_true",
                        help="the preset's own checkpoints, and each variant's run kept after it is recorded")
    args = parser.parse_args(argv)
    if args.keep_runs and args.resume_every:
        parser.error("--keep-runs keeps the preset's checkpoint schedule; leave out --resume-every")

    out = args.out or HERE / "results" / f"recipe_sweep_{args.preset}_{args.name}.json"
    rows = json.loads(out.read_text())["results"] if out.exists() else []
    work = args.work_dir or Path(tempfile.gettempdir()) / "taskspace-sweeps"
    base = {"work_dir": str(work), **parse_overrides(args.base)}
    long_run = args.resume_every > 0 or args.keep_runs  # it shows its progress; its scratch dir outlives a failure
    for variant in args.variant:
        overrides = parse_overrides(variant)
        if any(r["variant"] == overrides and r["size"] == args.size and r["base"] == base_key(base)
               and r.get("keep_runs", False) == args.keep_runs for r in rows):
            print(f"{variant}: done before, kept")
            continue
        config = apply_overrides(load_preset(args.preset), {**base, **overrides})
        if not args.keep_runs:
            config = apply_overrides(config, {"pretrain.checkpoints": resume_points(config.pretrain.epochs,
                                                                                    args.resume_every)})
        if long_run:  # named by what it runs, so that the next session finds it
            key = json.dumps([args.size, base_key(base), overrides, args.resume_every]
                             + (["preset checkpoints", args.preset] if args.keep_runs else []), sort_keys=True)
            scratch = work / f"variant-{args.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        else:
            scratch = Path(tempfile.mkdtemp(dir=work))
        try:
            result = run_variant(config, args.size, scratch, log=progress(f"{args.size} {variant}") if long_run
                                 else lambda *_: None)
        except BaseException:
            if not long_run:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        row = {"size": args.size, "base": base_key(base), "variant": overrides, **result, "config": to_dict(config)}
        if args.keep_runs:
            row["keep_runs"] = True
        rows.append(row)
        print(f"{args.size} {variant}: val loss {row['val_loss']:.4f} nats/token, {row['val_bits_per_byte']:.4f} "
              f"bits/byte, {row['tokens_seen']:,} tokens, {row['tokens_per_s']:,.0f} tok/s, {row['train_wall_s']:.0f}s",
              flush=True)
        atomic_write_json(out, provenance(kind="benchmark", benchmark="recipe_sweep", preset=args.preset,
                                          name=args.name, results=rows))
        if args.keep_runs:
            print(f"  its run: {scratch / 'model'} ({own_run(args.preset, args.size, row['pretrain_hash'])})", flush=True)
        else:
            shutil.rmtree(scratch, ignore_errors=True)  # recorded: nothing left to resume
    print(f"-> {out}")


def own_run(preset: str, size: str, run_hash: str) -> str:
    """Whether a kept run is ``preset``'s own run of ``size`` (its run hash), and where that one goes."""
    config = load_preset(preset)
    if run_hash != expected_pretrain_hash(config, size):
        return "not the preset's own run: its recipe differs from the preset's"
    return f"the preset's own run: move it to {models_dir(config.run_dir(), config, size)} rather than train it again"


def progress(prefix: str):
    """A log for pretraining's progress lines, each after ``prefix`` and flushed (a log file)."""
    return lambda line: print(f"  {prefix}: {line}", flush=True)


def base_key(base: dict) -> dict:
    return {k: v for k, v in base.items() if k != "work_dir"}


if __name__ == "__main__":
    main()
