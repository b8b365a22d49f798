"""Does bf16 change what the book reports? One checkpoint's task space in fp32 and in bf16.

    python benchmarks/precision_space.py --preset cpu --size small [--checkpoint final]
                                         [--work_dir DIR] [--override ...]

Computes (or reloads from the run store) the task space of one checkpoint twice: with
``ftgd.precision`` and ``scoring.precision`` at ``fp32`` and at ``bf16`` (the FTGD mask is
decided on float32 gradients either way), and compares what the book reports of it:

- the transfer-similarity matrices (Pearson r of their off-diagonal entries; the bar is
  r >= 0.99);
- the headline numbers (eval1 accuracy, mask shares, correlation with the hypothesis space and
  its Mantel p, within/between means) and the per-phenomenon within-similarity, as the book
  prints them (3 decimals): any that moves is listed;
- claim 1's verdict (``claims.resembles_hypothesis``) and the number of phenomena at or above
  ``claims.HIGH_WITHIN`` (claim 2's count).

Task spaces may use bf16 only if this shows nothing the book reports changes (book/methods.md).
Results: ``benchmarks/results/precision_space_<preset>_<size>.json``, with both spaces' keys and
wall times.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from taskspace_core.analysis import claims
from taskspace_core.analysis.report import analyse
from taskspace_core.analysis.similarity import offdiag_pearson
from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import apply_overrides, load_preset
from taskspace_core.engine.compute import compute_space
from taskspace_core.lm.pretrain import ensure_checkpoint
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent
COMPARED = ("eval1_accuracy", "mask_share_mean", "mask_union_share", "hypothesis_pearson", "mantel_p",
            "partial_mantel_r", "within_mean", "between_mean")
PRINTED_DECIMALS = 3  # the book prints correlations, similarities and accuracies to 3 decimals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--size", default="small")
    parser.add_argument("--checkpoint", default="final")
    args, extra = parser.parse_known_args()
    base = load_preset(args.preset, parse_dotted_args(extra))
    path = ensure_checkpoint(base, args.size, args.checkpoint, train_if_missing=False)
    runs = {}
    for precision in ("fp32", "bf16"):
        config = apply_overrides(base, {"ftgd.precision": precision, "scoring.precision": precision})
        started = time.perf_counter()
        space = compute_space(config, path, label=f"{args.preset}-{args.size}-{path.name}-{precision}", progress=False)
        analysis = analyse(space, config)
        runs[precision] = {"space": space, "analysis": analysis, "config": config,
                           "wall_s": time.perf_counter() - started}
    a, b = runs["fp32"]["analysis"], runs["bf16"]["analysis"]
    r = offdiag_pearson(a.similarity, b.similarity)
    within = {p: {"fp32": float(a.within.loc[p, "mean"]), "bf16": float(b.within.loc[p, "mean"])}
              for p in a.within.index}
    verdicts = {k: claims.resembles_hypothesis(v["analysis"], k).verdict for k, v in runs.items()}
    high = {k: claims.n_high(v["analysis"].within) for k, v in runs.items()}
    headline = {key: {"fp32": getattr(a.headline, key), "bf16": getattr(b.headline, key)} for key in COMPARED}
    # "the same" as the book prints it: headline numbers and within-phenomenon means to 3 decimals
    printed = lambda x: round(float(x), PRINTED_DECIMALS)  # noqa: E731
    moved = sorted([key for key, pair in headline.items() if printed(pair["fp32"]) != printed(pair["bf16"])]
                   + [f"within {p}" for p, pair in within.items() if printed(pair["fp32"]) != printed(pair["bf16"])])
    same = r >= 0.99 and verdicts["fp32"] == verdicts["bf16"] and high["fp32"] == high["bf16"] and not moved
    result = {"preset": args.preset, "size": args.size, "checkpoint": path.name,
              "similarity_pearson_r": r, "claim1_verdict": verdicts, "n_phenomena_high": high,
              "headline": headline, "within": within, "printed_numbers_that_move": moved,
              "bf16_changes_nothing_reported": same,
              "keys": {k: v["space"].meta["key_hash"] for k, v in runs.items()},
              # job_s: eval1 plus every fine-tune-and-eval2 job, as stored with the space (so a reload
              # keeps it); wall_s: this invocation, near zero when the spaces were already stored
              "job_s": {k: v["space"].meta["eval1_time_s"] + sum(v["space"].meta["job_time_s"].values())
                        for k, v in runs.items()},
              "wall_s": {k: v["wall_s"] for k, v in runs.items()}}
    out = HERE / "results" / f"precision_space_{args.preset}_{args.size}.json"
    atomic_write_json(out, provenance(kind="benchmark", benchmark="precision_space", **result))
    print(f"similarity r = {r:.4f}; claim 1: {verdicts}; phenomena >= {claims.HIGH_WITHIN}: {high}; "
          f"numbers that move as printed: {', '.join(moved) or 'none'}; bf16 changes nothing reported: {same} -> {out}")


if __name__ == "__main__":
    main()
