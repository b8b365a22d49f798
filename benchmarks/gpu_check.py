"""The GPU path, measured on the card: does it reproduce the CPU's results, and what does the
`paper` preset cost there?

    python benchmarks/gpu_check.py --checkpoint DIR [--device cuda] [--out DIR] [--commit SHA] [--quick]
    python benchmarks/gpu_check.py --compare OUT_DIR [--reference-root results/cpu]   # afterwards, here

Run on a GPU machine (`--device cuda`), it measures, writing ``gpu_check.json`` into ``--out``
after every part, so that a part that fails or runs out of time loses nothing before it:

1. ``ceilings``: the best matmul rate of the device in float32 (TF32 off, torch's default) and
   bfloat16, on square and `paper`-shaped matrices;
2. ``space``: the task space of ``--checkpoint`` (a committed reference model, e.g. the
   ``cpu`` small model's final checkpoint) computed on the device under its preset's
   defaults, and exported as the committed results are (``OUT/spaces/<store dir>``): the same
   key as the committed CPU space, since the device is not part of a key;
3. ``pretrain``: training tokens/s of every `paper` size in fp32 and bf16 (the real step of
   ``benchmarks/pretrain_throughput.py``) and each as a share of that dtype's ceiling;
4. ``paper_jobs``: per `paper` size, the jobs of one task space at initialisation: eval1 over
   every paradigm, then the first few sources (FTGD fine-tune + eval2), timed, and projected
   to a whole space;
5. ``repretrain``: the checkpoint's own pretraining run repeated on the device from scratch,
   with the validation loss of every checkpoint (the CPU's are in the committed metas).

``--compare`` then reads the exported space beside the committed CPU space with the same key
and adds what differs (per-pair margins, transfers, mask shares and overlaps, the headline
numbers) to ``gpu_check.json``. ``--quick`` shrinks everything, to test the script on a CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from pretrain_throughput import _sync, matmul_gflops, training_throughput
from transformers import AutoTokenizer

from taskspace_core.config import load_preset
from taskspace_core.corpora.books import prepare_corpus
from taskspace_core.engine.compute import compute_space
from taskspace_core.engine.probing import EVAL1, Job, ProbeWorker
from taskspace_core.lm.pretrain import pretrain
from taskspace_core.provenance import atomic_write_json, provenance
from taskspace_core.results.export import export_space
from taskspace_core.results.read import read_space

HERE = Path(__file__).resolve().parent
GPU_SHAPES = {"square_4096": (4096, 4096, 4096), "square_8192": (8192, 8192, 8192),
              "paper_large_qkv": (16384, 1024, 3072), "paper_large_mlp": (16384, 1024, 2944)}
QUICK = {"data.paradigms": "anaphor_gender_agreement,npi_present_1,determiner_noun_agreement_1",
         "data.n_test": 8, "data.n_train": 16, "ftgd.steps": 2, "space.bootstrap": 20, "space.permutations": 9}


def space_on_device(checkpoint: Path, device: str, out: Path, quick: bool) -> dict:
    """Part 2: the reference model's task space on ``device``, exported into ``out``."""
    meta = json.loads((checkpoint / "meta.json").read_text())
    with tempfile.TemporaryDirectory() as work:
        overrides = {"device": device, "work_dir": work, "space.executor": "serial", **(QUICK if quick else {})}
        config = load_preset(meta["preset"], overrides)
        label = f"{meta['preset']}-{meta['size']}-epoch-{meta['epoch']:g}"
        space = compute_space(config, checkpoint, label=label, progress=False, log=print)
        exported = export_space(space, config, out)
    return {"preset": meta["preset"], "size": meta["size"], "epoch": meta["epoch"], "store": exported.name,
            "key_hash": space.meta["key_hash"], "wall_time_s": space.meta["wall_time_s"],
            "eval1_time_s": space.meta["eval1_time_s"],
            "finetune_time_s_mean": float(np.mean(list(space.meta["finetune_time_s"].values()))),
            "job_time_s_mean": float(np.mean(list(space.meta["job_time_s"].values())))}


def pretrain_rates(device: str, quick: bool) -> dict:
    """Parts 1 and 3: the device's matmul ceilings, then training tokens/s of every `paper` size."""
    with tempfile.TemporaryDirectory() as work:
        return _pretrain_rates(device, quick, work)


def _pretrain_rates(device: str, quick: bool, work: str) -> dict:
    config = load_preset("paper", {"device": device, "work_dir": work, **({"tokenizer.vocab_size": 2048} if quick else {})})
    shapes = None if quick else GPU_SHAPES
    ceilings = {name: matmul_gflops(dtype=dtype, device=device, shapes=shapes)
                for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    peaks = {name: max(rates.values()) for name, rates in ceilings.items()}
    print(f"matmul ceilings on {device}: " + ", ".join(f"{k} {v / 1e3:.1f} TFLOP/s" for k, v in peaks.items()),
          flush=True)
    started = time.perf_counter()
    corpus = prepare_corpus(config, log=print)
    tokenizer_s = time.perf_counter() - started
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_dir)
    rows = []
    for size in (list(config.sizes)[:1] if quick else config.sizes):
        for precision in ("fp32", "bf16"):
            row = training_throughput(config, size, corpus, tokenizer, 2 if quick else 20, precision, device=device)
            row["fraction_of_matmul_ceiling"] = row["model_gflops"] / peaks[precision]
            rows.append(row)
            print(f"paper/{size:<7} {row['n_parameters'] / 1e6:6.1f}M {precision}  {row['tokens_per_s']:10,.0f} tokens/s"
                  f"  {row['model_gflops'] / 1e3:6.1f} TFLOP/s = {row['fraction_of_matmul_ceiling']:.0%} of the ceiling",
                  flush=True)
    return {"ceilings": {"gflops": ceilings, "peak_gflops": peaks},
            "pretrain": {"tokenizer_training_s": tokenizer_s, "tokens_per_epoch": len(corpus.train_tokens),
                         "rows": rows}}


def paper_jobs(device: str, sources: int, quick: bool, sizes: list[str] | None = None) -> dict:
    """Part 4: per `paper` size (default: all), eval1 and ``sources`` source jobs of a task space of
    that size at initialisation, each timed on ``device``, and the whole space projected."""
    with tempfile.TemporaryDirectory() as work:
        overrides = {"device": device, "work_dir": work, **(QUICK if quick else {}),
                     **({"tokenizer.vocab_size": 2048} if quick else {})}
        config = load_preset("paper", overrides)
        by_size = {}
        for size in sizes or list(config.sizes):
            checkpoint = pretrain(config, size, until_epoch=0, log=print)[0]
            by_size[size] = _time_jobs(config, checkpoint, size, sources, device)
    return {"n_train": config.data.n_train, "ftgd": dataclasses.asdict(config.ftgd), "by_size": by_size}


def _time_jobs(config, checkpoint: Path, size: str, sources: int, device: str) -> dict:
    worker = ProbeWorker(config, checkpoint, None, label=f"paper-jobs-{size}")
    _sync(device)
    started = time.perf_counter()
    worker.run(EVAL1)
    _sync(device)
    eval1_s = time.perf_counter() - started
    jobs = []
    for paradigm in worker.data.paradigms[:sources]:
        _sync(device)
        started = time.perf_counter()
        worker.run(Job(paradigm))
        _sync(device)
        meta = worker.store.load(Job(paradigm).name)[1]
        jobs.append({"paradigm": paradigm, "job_s": time.perf_counter() - started,
                     "finetune_s": meta["finetune_time_s"], "mask_share": meta["mask_share"]})
        print(f"paper/{size} source {paradigm}: {jobs[-1]['job_s']:.1f}s "
              f"(fine-tune {meta['finetune_time_s']:.1f}s)", flush=True)
    n = len(worker.data.paradigms)
    per_job = float(np.mean([j["job_s"] for j in jobs]))
    return {"paradigms": n, "test_pairs": len(worker.data.test), "eval1_s": eval1_s, "sources": jobs,
            "projected_space_s": eval1_s + n * per_job}


def repretrain(checkpoint: Path, device: str, quick: bool) -> dict:
    """Part 5: the checkpoint's pretraining run again, from scratch on ``device``."""
    meta = json.loads((checkpoint / "meta.json").read_text())
    with tempfile.TemporaryDirectory() as work:
        overrides = {"device": device, "work_dir": work, **({"pretrain.max_steps": 3} if quick else {})}
        config = load_preset(meta["preset"], overrides)
        started = time.perf_counter()
        done = pretrain(config, meta["size"], log=print)
        wall = time.perf_counter() - started
        metas = [json.loads((d / "meta.json").read_text()) for d in done]
    return {"preset": meta["preset"], "size": meta["size"], "wall_s": wall,
            "pretrain_hash": metas[-1]["pretrain_hash"],
            "checkpoints": [{"epoch": m["epoch"], "step": m["step"], "val_loss": m["val_loss"],
                             "train_wall_s": m["wall_time_s"]} for m in metas]}


def measure(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = args.device
    result = provenance(kind="benchmark", benchmark="gpu_check", source_commit=args.commit, device=device,
                        device_name=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
                        torch_threads=torch.get_num_threads(), quick=args.quick, parts={})
    if args.parts and (out / "gpu_check.json").is_file():  # a rerun of some parts keeps the others
        result["parts"] = json.loads((out / "gpu_check.json").read_text())["parts"]
    parts = [("pretrain_rates", lambda: pretrain_rates(device, args.quick)),
             ("space", lambda: space_on_device(Path(args.checkpoint), device, out, args.quick)),
             ("paper_jobs", lambda: paper_jobs(device, 1 if args.quick else args.sources, args.quick,
                                               [s for s in args.paper_sizes.split(",") if s] or None)),
             ("repretrain", lambda: repretrain(Path(args.checkpoint), device, args.quick))]
    for name, part in parts:
        if args.parts and name not in args.parts.split(","):
            continue
        started = time.perf_counter()
        try:
            result["parts"][name] = {"ok": True, **part()}
        except Exception:  # keep the other parts' measurements; the traceback says what broke
            traceback.print_exc()
            result["parts"][name] = {"ok": False, "error": traceback.format_exc(limit=3)}
        result["parts"][name]["part_s"] = round(time.perf_counter() - started, 2)
        result["parts"][name]["source_commit"] = args.commit
        atomic_write_json(out / "gpu_check.json", result)
        print(f"== {name}: {'ok' if result['parts'][name]['ok'] else 'FAILED'} "
              f"in {result['parts'][name]['part_s']:.0f}s", flush=True)


def compare(args) -> None:
    """Add the committed CPU space beside the device's to ``gpu_check.json``."""
    out = Path(args.compare)
    result = json.loads((out / "gpu_check.json").read_text())
    store = result["parts"]["space"]["store"]
    gpu_manifest, gpu = read_space(out / "spaces" / store)
    cpu_manifest, cpu = read_space(Path(args.reference_root) / "spaces" / store)
    if gpu_manifest["key_hash"] != cpu_manifest["key_hash"]:
        sys.exit(f"{store}: key {gpu_manifest['key_hash']} on the device, {cpu_manifest['key_hash']} committed")
    max_abs = lambda a, b: float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))  # noqa: E731
    eval1_gpu, eval1_cpu = gpu["eval1_margin"], cpu["eval1_margin"]
    eval2_gpu, eval2_cpu = gpu["eval2_margin"], cpu["eval2_margin"]
    result["parts"]["space"]["against_cpu"] = {
        "reference": str(Path(args.reference_root) / "spaces" / store),
        "eval1_margin_max_abs": max_abs(eval1_gpu, eval1_cpu),
        "eval1_correct_flips": int(np.sum((eval1_gpu > 0) != (eval1_cpu > 0))),
        "eval2_margin_max_abs": max_abs(eval2_gpu, eval2_cpu),
        "eval2_margin_mean_abs": float(np.mean(np.abs(eval2_gpu - eval2_cpu))),
        "eval2_margin_sd": float(np.std(eval2_cpu)),
        "mask_share_max_abs": max_abs(gpu["mask_share"], cpu["mask_share"]),
        "mask_overlap_max_abs": max_abs(gpu["mask_overlap"], cpu["mask_overlap"]),
        "headline": {"gpu": gpu_manifest["headline"], "cpu": cpu_manifest["headline"]},
    }
    atomic_write_json(out / "gpu_check.json", result)
    print(json.dumps(result["parts"]["space"]["against_cpu"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a committed reference model's checkpoint directory")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu_check"))
    parser.add_argument("--commit", default=None, help="the commit measured (the device's copy has no .git)")
    parser.add_argument("--sources", type=int, default=3, help="paper-scale source jobs to time")
    parser.add_argument("--paper-sizes", default="", help="comma-separated paper sizes to time (default: all)")
    parser.add_argument("--parts", default="", help="comma-separated parts to run (default: all)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compare", default=None, metavar="OUT_DIR")
    parser.add_argument("--reference-root", default="results/cpu")
    args = parser.parse_args()
    if args.compare:
        compare(args)
    elif not args.checkpoint:
        parser.error("--checkpoint is required (or --compare)")
    else:
        measure(args)


if __name__ == "__main__":
    main()
