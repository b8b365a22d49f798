"""Pretraining throughput of each size of a preset in fp32 and bf16, against this machine's
matmul ceilings of both dtypes, measured in the same run.

    python benchmarks/pretrain_throughput.py [--preset cpu] [--steps 12] [--precisions fp32,bf16]
                                             [--out FILE.json]

For each size and precision it runs the real training step of ``taskspace_core.pretrain``
(``lm_loss`` at that precision: forward, cross-entropy, backward, gradient clipping, AdamW) on
real batches of the preset's corpus, and reports tokens/s. Model FLOPs per token are counted as
6 * N (weights, forward and backward) plus 6 * n_layers * seq_len * d_model (attention scores
and mixing, causal average), the usual accounting. Each ceiling is the best matmul rate
measured here with ``torch.matmul`` on square and model-shaped matrices in that dtype, and each
size's achieved FLOP/s is reported as a share of the ceiling of the dtype it ran in. Results
go to a JSON file with provenance.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from taskspace_core.config import load_preset
from taskspace_core.corpora.books import prepare_corpus
from taskspace_core.lm.models import build_model, count_parameters
from taskspace_core.lm.pretrain import batch_indices, lm_loss, to_blocks
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


CPU_SHAPES = {"square_512": (512, 512, 512), "square_1024": (1024, 1024, 1024), "square_2048": (2048, 2048, 2048),
              "model_4096x256x1024": (4096, 256, 1024), "model_4096x512x1344": (4096, 512, 1344)}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(repeats: int = 5, dtype: torch.dtype = torch.float32, device: str = "cpu",
                  shapes: dict[str, tuple[int, int, int]] | None = None) -> dict[str, float]:
    """Best observed GFLOP/s of torch.matmul in ``dtype`` on ``device`` for a few (m, k, n) shapes."""
    rates = {}
    for name, (m, k, n) in (shapes or CPU_SHAPES).items():
        a, b = torch.randn(m, k, dtype=dtype, device=device), torch.randn(k, n, dtype=dtype, device=device)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            _sync(device)
            t = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - t)
        rates[name] = 2 * m * k * n / best / 1e9
    return rates


def training_throughput(config, size: str, corpus, tokenizer, steps: int, precision: str, warmup: int = 2,
                        device: str = "cpu") -> dict:
    cfg = config.pretrain
    spec = config.size(size)
    model = build_model(spec, tokenizer, cfg.seed).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                  weight_decay=cfg.weight_decay)
    blocks = to_blocks(corpus.train_tokens, cfg.seq_len)

    def step(i: int) -> None:
        loss = lm_loss(model, blocks[batch_indices(i, len(blocks), cfg.batch_size, cfg.seed)].to(device), precision)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()

    for i in range(warmup):
        step(i)
    _sync(device)
    started = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    _sync(device)
    seconds = time.perf_counter() - started
    n_params = count_parameters(model)
    tokens = steps * cfg.batch_size * cfg.seq_len
    flops_per_token = 6 * n_params + 6 * spec.n_layers * cfg.seq_len * spec.d_model
    return {"size": size, "precision": precision, "n_parameters": n_params, "tokens_per_s": tokens / seconds,
            "flops_per_token": flops_per_token, "model_gflops": tokens / seconds * flops_per_token / 1e9,
            "steps": steps, "batch": [cfg.batch_size, cfg.seq_len]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    config = load_preset(args.preset)
    corpus = prepare_corpus(config)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_dir)
    ceilings = {"fp32": matmul_gflops(dtype=torch.float32), "bf16": matmul_gflops(dtype=torch.bfloat16)}
    peaks = {name: max(rates.values()) for name, rates in ceilings.items()}
    for name, rates in ceilings.items():
        print(f"matmul ceiling {name}: {peaks[name]:.1f} GFLOP/s ({torch.get_num_threads()} threads); "
              + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    rows = []
    for size in config.sizes:
        for precision in args.precisions.split(","):
            row = training_throughput(config, size, corpus, tokenizer, args.steps, precision)
            row["fraction_of_matmul_ceiling"] = row["model_gflops"] / peaks[precision]
            rows.append(row)
            print(f"{args.preset}/{size:<7} {row['n_parameters'] / 1e6:6.2f}M params {precision}  "
                  f"{row['tokens_per_s']:8,.0f} tokens/s  {row['model_gflops']:6.1f} GFLOP/s  "
                  f"= {row['fraction_of_matmul_ceiling']:.0%} of the {precision} matmul ceiling", flush=True)
    out = args.out or HERE / "results" / f"pretrain_throughput_{args.preset}.json"
    atomic_write_json(out, provenance(kind="benchmark", benchmark="pretrain_throughput", preset=args.preset,
                                      torch_threads=torch.get_num_threads(), matmul_gflops=ceilings["fp32"],
                                      matmul_gflops_by_dtype=ceilings, ceiling_gflops=peaks, results=rows))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
