"""`taskspace score` against minicons, both timed as whole processes on the same model and pairs.

    .venv-bench/bin/python benchmarks/score_cli.py [--paradigms a,b,c] [--split all] [--repeats 3]

The model is a randomly initialised 19M-parameter Llama (d_model 512, 6 layers, SwiGLU 1408)
with the `ci` tokenizer, saved as a Hugging Face directory: the shape the issue that asked for
this measured on (its weights do not matter for speed, and random weights need no pretraining).
Each tool runs in a fresh process, start-up and imports included, in float32:

- ours: ``taskspace score --model DIR --paradigms ... --split all --out FILE.csv``;
- minicons: ``IncrementalLMScorer(DIR).sequence_score(..., bos_token=True)`` over the same
  sentences at batch 64, summing token log-probs (the same BOS policy as ours).

The two must agree on every sentence's log-prob within 1e-4 (checked, and recorded), then the
best of ``--repeats`` wall times of each is compared. Needs the benchmark environment
(benchmarks/requirements.txt). Results: ``benchmarks/results/score_cli.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MINICONS = """
import json, sys, time
import torch
from minicons import scorer
from taskspace_core.corpora import blimp
from taskspace_core.corpora.pairs import select_pairs
from taskspace_core.config import load_preset
model_dir, paradigms, split, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
d = load_preset("ci").data  # the split `taskspace score --preset ci` uses
loaded = blimp.load_blimp(None, paradigms)
pairs = [p for name in sorted(loaded) for p in select_pairs(loaded[name], split, d.n_test, d.n_train, d.split_seed)]
sentences = [p.good for p in pairs] + [p.bad for p in pairs]
lm = scorer.IncrementalLMScorer(model_dir, "cpu", torch_dtype=torch.float32)
scores = []
for start in range(0, len(sentences), 64):
    scores += lm.sequence_score(sentences[start:start + 64], reduction=lambda x: x.sum(0).item(), bos_token=True)
json.dump(scores, open(out, "w"))
"""


def make_model(directory: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    from taskspace_core.config import ModelSpec, load_preset
    from taskspace_core.corpora.books import prepare_corpus
    from taskspace_core.lm.models import build_model

    config = load_preset("ci", {"work_dir": str(directory / "runs")})
    tokenizer = AutoTokenizer.from_pretrained(prepare_corpus(config, log=lambda *_: None).tokenizer_dir)
    model = build_model(ModelSpec(d_model=512, n_layers=6, n_heads=8, d_mlp=1408, context=128), tokenizer, seed=0)
    model.to(torch.float32).save_pretrained(directory / "model")
    tokenizer.save_pretrained(directory / "model")


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paradigms", default="anaphor_gender_agreement,determiner_noun_agreement_1,npi_present_1")
    parser.add_argument("--split", default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "score_cli.json")
    args = parser.parse_args()
    import pandas as pd

    from taskspace_core.lm.models import count_parameters, load_model
    from taskspace_core.provenance import atomic_write_json, provenance

    work = Path(tempfile.mkdtemp(prefix="score-cli-"))
    make_model(work)
    model_dir = work / "model"
    n_params = count_parameters(load_model(model_dir)[0])
    taskspace = str(Path(sys.executable).with_name("taskspace"))
    ours_cmd = [taskspace, "score", "--preset", "ci", "--model", str(model_dir), "--paradigms", args.paradigms,
                "--split", args.split, "--out", str(work / "ours.csv")]
    theirs_cmd = [sys.executable, "-c", MINICONS, str(model_dir), args.paradigms, args.split, str(work / "theirs.json")]
    ours_s, theirs_s = [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        ours_s.append(timed(ours_cmd))
        theirs_s.append(timed(theirs_cmd))
    ours = pd.read_csv(work / "ours.csv")
    theirs = np.array(json.loads((work / "theirs.json").read_text()))
    n = len(ours)
    diff = float(np.abs(np.concatenate([ours.logp_good, ours.logp_bad]) - theirs).max())
    result = {"model": {"n_parameters": n_params, "shape": "d_model 512, 6 layers, 8 heads, d_mlp 1408, ci tokenizer"},
              "paradigms": args.paradigms.split(","), "split": args.split, "pairs": n, "sentences": 2 * n,
              "ours_s": ours_s, "minicons_s": theirs_s, "ours_best_s": min(ours_s), "minicons_best_s": min(theirs_s),
              "speedup": min(theirs_s) / min(ours_s), "max_abs_logprob_diff": diff, "agrees_within_1e-4": diff <= 1e-4,
              "minicons_batch": 64, "precision": "fp32"}
    atomic_write_json(args.out, provenance(kind="benchmark", benchmark="score_cli", **result))
    print(f"{2 * n} sentences: taskspace score {min(ours_s):.1f} s, minicons {min(theirs_s):.1f} s "
          f"({result['speedup']:.2f}x); max |diff| {diff:.2e} -> {args.out}")


if __name__ == "__main__":
    main()
