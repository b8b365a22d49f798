"""Speed of every stage of a task space, against this machine's matmul rate and against minicons.

    python benchmarks/speed.py [--preset cpu] [--sizes small,medium,large] [--checkpoint final] [--finetunes 4]
                               [--minicons-pairs 1000] [--end-to-end tiny [--end-to-end-keep DIR]]
                               [--out FILE.json]

Each measurement runs in a fresh process, so its peak memory (max RSS) is its own:

- ``matmul``: the best float32 GFLOP/s of ``torch.matmul`` (the ceiling);
- ``scoring`` per size: one evaluation pass over every test pair of the preset (what eval1
  and each eval2 do), best of two; tokens/s, pairs/s and achieved GFLOP/s counted as
  2 x parameters x scored tokens / time, and that as a share of the ceiling. The scores are
  first checked against the one-sentence-at-a-time reference;
- ``minicons`` per size (when minicons is installed, see benchmarks/requirements.txt): the
  same model directory, a seeded sample of the same test pairs, the same BOS policy
  (``bos_token=True``). Its log-probs are checked against ours before its speed counts; it
  gets the best of two batch sizes;
- ``finetune`` per size: FTGD on ``--finetunes`` paradigms spread over the list;
- the projected wall time of a full task space per size: eval1 + n x (fine-tune + eval2),
  from the two measurements above (``space_walltime.py`` measures one for real);
- ``--end-to-end PRESET``: the main job (pretraining, every task space the book needs, the
  book build) from an empty work directory, timed.

Results go to ``benchmarks/results/speed_<preset>.json`` with provenance; the reproducing
chapter of the book shows them. Only public functions that have been stable since the first
task-space engine are used, so the same script measures older commits too (see NOTES.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _in_fresh_process(fn, *args):
    """Run ``fn(*args)`` in a new spawned process; return its result plus that process's peak RSS."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_with_peak_rss, fn, *args).result()


def _with_peak_rss(fn, *args):
    result = fn(*args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return result


def _checkpoint(config, size: str, checkpoint: str) -> Path:
    """The model directory: ``final``, an epoch, or ``latest`` (the last one pretraining has written)."""
    from taskspace_core.errors import ConfigError
    from taskspace_core.lm.pretrain import ensure_checkpoint

    if checkpoint != "latest":
        return ensure_checkpoint(config, size, checkpoint, train_if_missing=False)
    for epoch in sorted(config.pretrain.checkpoints, reverse=True):
        try:
            return ensure_checkpoint(config, size, epoch, train_if_missing=False)
        except ConfigError:
            continue
    raise ConfigError(f"no checkpoint of {config.preset}/{size} exists yet; run `taskspace pretrain --preset {config.preset}`")


def _config(run: dict):
    """``run``: {"preset": ..., "work_dir": ...} (where the checkpoints are)."""
    from taskspace_core.config import load_preset

    return load_preset(run["preset"], {"work_dir": run["work_dir"]})


def _setup(run: dict, size: str, checkpoint: str):
    from taskspace_core.engine.probing import prepare_probe_data
    from taskspace_core.lm.models import load_model

    config = _config(run)
    path = _checkpoint(config, size, checkpoint)
    model, tokenizer = load_model(path)
    return config, path, model, tokenizer, prepare_probe_data(config, tokenizer)


def _test_sentences(config) -> tuple[list[str], list[str]]:
    """The test pairs' strings, in the order ``prepare_probe_data`` encodes them."""
    from taskspace_core.corpora import blimp, pairs

    d = config.data
    paradigms = blimp.load_blimp(d.blimp_dir or None, list(d.paradigms) or None)
    good, bad = [], []
    for name in sorted(paradigms):
        _, test = pairs.split_pairs(paradigms[name], d.n_test, d.n_train, d.split_seed)
        good += [p.good for p in test]
        bad += [p.bad for p in test]
    return good, bad


def matmul_stage() -> dict:
    import torch
    from pretrain_throughput import matmul_gflops

    rates = matmul_gflops()
    return {"gflops": rates, "ceiling_gflops": max(rates.values()), "threads": torch.get_num_threads()}


def scoring_stage(run: dict, size: str, checkpoint: str, reference_sentences: int = 300) -> dict:
    import numpy as np

    from taskspace_core.engine.probing import evaluate
    from taskspace_core.engine.scoring import score_sentence_reference
    from taskspace_core.lm.models import count_parameters

    config, path, model, tokenizer, data = _setup(run, size, checkpoint)
    n_pairs = len(data.test)
    tokens = sum(len(s) - 1 for s in data.test.good + data.test.bad)
    passes = []
    for _ in range(2):
        started = time.perf_counter()
        scores = evaluate(model, data, config)
        passes.append(time.perf_counter() - started)
    seconds = min(passes)
    # agreement with the one-sentence-at-a-time reference on a seeded sample of sentences
    good, bad = _test_sentences(config)
    batched = np.concatenate([scores["logp_good"], scores["logp_bad"]])
    sample = np.random.default_rng(0).choice(len(batched), size=min(reference_sentences, len(batched)), replace=False)
    sentences = good + bad
    reference = np.array([score_sentence_reference(model, tokenizer, sentences[i], config.scoring.bos)[0] for i in sample])
    diff = np.abs(batched[sample] - reference)
    n_params = count_parameters(model)
    # With shared prefixes packed once, the model runs fewer positions than the sentences have
    # tokens; GFLOP/s are counted on the sentences' tokens (the work the scores stand for).
    packed = getattr(data, "test_packed", None)
    uses_packing = packed is not None and config.scoring.pack_pairs and _supports_packing(model)
    computed = sum(b.input_ids.numel() for b in packed.batches) if uses_packing else tokens + len(data.test) * 2
    return {"size": size, "model": str(path), "n_parameters": n_params, "pairs": n_pairs, "tokens": tokens,
            "positions_computed": computed, "packed_pairs": bool(uses_packing),
            "seconds": seconds, "passes_s": passes, "tokens_per_s": tokens / seconds, "pairs_per_s": n_pairs / seconds,
            "gflops": 2 * n_params * tokens / seconds / 1e9,
            "reference_max_abs_diff": float(diff.max()),
            "reference_max_rel_diff": float((diff / np.abs(reference)).max()),
            "reference_sentences": len(sample)}


def minicons_stage(run: dict, size: str, checkpoint: str, n_pairs: int) -> dict:
    import numpy as np
    import torch

    try:
        from minicons import scorer
    except ImportError:
        return {"size": size, "skipped": "minicons is not installed (pip install -r benchmarks/requirements.txt)"}
    from taskspace_core.engine.probing import evaluate

    config, path, model, tokenizer, data = _setup(run, size, checkpoint)
    if config.scoring.bos != "prepend":
        return {"size": size, "skipped": "minicons' bos_token=True matches only scoring.bos='prepend'"}
    ours = evaluate(model, data, config)
    good, bad = _test_sentences(config)
    pick = np.sort(np.random.default_rng(0).choice(len(good), size=min(n_pairs, len(good)), replace=False))
    sentences = [good[i] for i in pick] + [bad[i] for i in pick]
    lm = scorer.IncrementalLMScorer(str(path), "cpu", torch_dtype=torch.float32)
    timings, theirs = {}, None
    for batch in (32, 128):
        started = time.perf_counter()
        scores = []
        for start in range(0, len(sentences), batch):
            scores += lm.sequence_score(sentences[start : start + batch], reduction=lambda x: x.sum(0).item(),
                                        bos_token=True)
        timings[batch] = time.perf_counter() - started
        theirs = np.array(scores)
    ours_sample = np.concatenate([ours["logp_good"][pick], ours["logp_bad"][pick]])
    diff = float(np.abs(theirs - ours_sample).max())
    best = min(timings, key=timings.get)
    return {"size": size, "minicons_version": _version("minicons"), "pairs": len(pick),
            "max_abs_logprob_diff": diff, "agrees_within_1e-4": diff <= 1e-4,
            "seconds_by_batch": timings, "best_batch": best, "pairs_per_s": len(pick) / timings[best]}


def finetune_stage(run: dict, size: str, checkpoint: str, n_finetunes: int) -> dict:
    from taskspace_core.engine.ftgd import finetune, restore, snapshot

    config, path, model, _, data = _setup(run, size, checkpoint)
    base = snapshot(model)
    stride = max(1, len(data.paradigms) // n_finetunes)
    times, shares = [], []
    for paradigm in data.paradigms[::stride][:n_finetunes]:
        started = time.perf_counter()
        result = finetune(model, data.train[paradigm], config.ftgd, data.pad_id)
        times.append(time.perf_counter() - started)
        restore(model, base)
        shares.append(result.mask_share)
    return {"size": size, "model": str(path), "paradigms": len(times), "seconds": times, "mean_s": statistics.mean(times),
            "mask_share_mean": statistics.mean(shares), "n_paradigms_in_space": len(data.paradigms)}


def end_to_end_stage(preset: str, keep: Path | None = None) -> dict:
    """The main job from an empty work directory: pretrain, every task space the book needs, the book.

    ``keep``: run in this (new or empty) directory and keep it, e.g. as the starting state of
    ``exercises.py``; by default a temporary directory, deleted afterwards.
    """
    from taskspace_core.config import preset_hash

    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"--end-to-end-keep: {keep} is not empty; the main job must start from nothing")
    with tempfile.TemporaryDirectory() as scratch:
        work = keep or Path(scratch)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "taskspace_core.cli", "book", "--preset", preset,
                               "--work-dir", str(work), "--out", str(work / "html")], cwd=REPO)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"preset": preset, "preset_hash": preset_hash(preset), "seconds": seconds,
            "returncode": done.returncode, "peak_rss_mb_largest_process": peak}


def _supports_packing(model) -> bool:
    try:
        from taskspace_core.engine.scoring import supports_packing
    except ImportError:  # an engine from before shared-prefix packing
        return False
    return supports_packing(model)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--sizes", default=None, help="comma-separated; default: every size of the preset; "
                                                      "--sizes= measures none (e.g. with --end-to-end)")
    parser.add_argument("--checkpoint", default="final",
                        help="final, an epoch, or latest (the last one written; speed does not depend on training)")
    parser.add_argument("--finetunes", type=int, default=4, help="paradigms to fine-tune per size")
    parser.add_argument("--minicons-pairs", type=int, default=1000)
    parser.add_argument("--end-to-end", default=None, metavar="PRESET", help="also time the main job of PRESET")
    parser.add_argument("--end-to-end-keep", type=Path, default=None, metavar="DIR",
                        help="run the main job in DIR (new or empty) and keep it, e.g. for exercises.py")
    parser.add_argument("--work-dir", default="runs", help="where the preset's checkpoints are (default: runs)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))  # pretrain_throughput.matmul_gflops, also inside spawned workers

    from taskspace_core.config import load_preset
    from taskspace_core.provenance import atomic_write_json, provenance

    run = {"preset": args.preset, "work_dir": args.work_dir}
    config = load_preset(args.preset)
    sizes = list(config.sizes) if args.sizes is None else [s for s in args.sizes.split(",") if s]  # "" = none
    matmul = _in_fresh_process(matmul_stage)
    ceiling = matmul["ceiling_gflops"]
    print(f"matmul ceiling {ceiling:.1f} GFLOP/s float32 ({matmul['threads']} threads)", flush=True)
    rows = []
    for size in sizes:
        score = _in_fresh_process(scoring_stage, run, size, args.checkpoint)
        score["fraction_of_ceiling"] = score["gflops"] / ceiling
        print(f"{args.preset}/{size}: scoring {score['tokens_per_s']:,.0f} tokens/s = {score['pairs_per_s']:,.0f} pairs/s, "
              f"{score['gflops']:.1f} GFLOP/s = {score['fraction_of_ceiling']:.0%} of the ceiling; "
              f"max |diff| to the reference {score['reference_max_abs_diff']:.1e}", flush=True)
        peer = _in_fresh_process(minicons_stage, run, size, args.checkpoint, args.minicons_pairs)
        if "skipped" not in peer:
            peer["speedup"] = score["pairs_per_s"] / peer["pairs_per_s"]
            print(f"{args.preset}/{size}: minicons {peer['pairs_per_s']:,.0f} pairs/s (batch {peer['best_batch']}); "
                  f"ours {peer['speedup']:.1f}x; log-probs agree to {peer['max_abs_logprob_diff']:.1e}", flush=True)
        else:
            print(f"{args.preset}/{size}: minicons skipped: {peer['skipped']}", flush=True)
        tune = _in_fresh_process(finetune_stage, run, size, args.checkpoint, args.finetunes)
        n = tune["n_paradigms_in_space"]
        projected = score["seconds"] * (n + 1) + tune["mean_s"] * n  # eval1 + n x (fine-tune + eval2)
        print(f"{args.preset}/{size}: fine-tune {tune['mean_s']:.2f} s/paradigm; projected {n}x{n} task space "
              f"{projected / 60:.1f} min", flush=True)
        rows.append({"size": size, "scoring": score, "minicons": peer, "finetune": tune,
                     "projected_space_s": projected})
    end_to_end = None
    if args.end_to_end:
        end_to_end = end_to_end_stage(args.end_to_end, args.end_to_end_keep)
        print(f"{args.end_to_end} main job end to end: {end_to_end['seconds'] / 60:.1f} min "
              f"(exit {end_to_end['returncode']})", flush=True)
    out = args.out or HERE / "results" / f"speed_{args.preset}.json"
    atomic_write_json(out, provenance(kind="benchmark", benchmark="speed", preset=args.preset, matmul=matmul,
                                      sizes=rows, end_to_end=end_to_end, minicons_version=_version("minicons")))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
