"""Does bf16 change what the book reports? One checkpoint's task space in fp32 and in bf16.

    python benchmarks/precision_space.py --preset cpu --size large [--checkpoint final]
        [--bf16-also scoring.eval2=margins] [--section.field VALUE ...]

Reads (from the committed results or the run store) or else computes the task space of one
checkpoint twice: with ``ftgd.precision`` and ``scoring.precision`` at ``fp32`` and at ``bf16``
(the FTGD mask is decided on float32 gradients and the master weights stay float32 either way).
``--bf16-also`` makes exact engine changes in the bf16 run only, so that the fp32 run is the
preset's committed space, read rather than recomputed. It then holds bf16
to the rule of book/methods.md, written before the runs it judges:

- the transfer-similarity matrices correlate at r >= 0.995 (off-diagonal entries);
- every headline number (eval1 accuracy, mask shares and union, r with the hypothesis space and
  its partial r, within/between means) and every per-phenomenon within-similarity moves by less
  than a tenth of the spread between pretraining seeds of that same number: the band the claims
  use, read from the preset's committed seed replicates of this size at this checkpoint, or the
  widest such band over the sizes where this size has one seed (``replicates.band_for``);
- claim 1's verdict (``claims.resembles_hypothesis``) and claim 2's count of phenomena at or
  above ``statistics.HIGH_WITHIN`` are the same.

Results: ``benchmarks/results/precision_space_<preset>_<size>.json``: both spaces' keys and
job times, every compared number with its band and its move as a share of the band, and the
verdict (``bf16_accepted``); where the rule fails, by how much.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from taskspace_core.analysis import claims, statistics
from taskspace_core.analysis.report import analyse
from taskspace_core.analysis.similarity import offdiag_pearson
from taskspace_core.cli.args import parse_dotted_args
from taskspace_core.config import apply_overrides, load_preset
from taskspace_core.engine.compute import compute_space
from taskspace_core.lm.identity import model_identity
from taskspace_core.lm.pretrain import ensure_checkpoint
from taskspace_core.analysis.replicates import Estimate, band_for
from taskspace_core.findings.evidence import seed_replicates
from taskspace_core.plan.requests import plan_of
from taskspace_core.provenance import atomic_write_json, provenance
from taskspace_core.results.read import Reader

HERE = Path(__file__).resolve().parent
COMPARED = ("eval1_accuracy", "mask_share_mean", "mask_union_share", "hypothesis_pearson", "partial_mantel_r",
            "within_mean", "between_mean")
MIN_SIMILARITY_R = 0.995
MAX_SHARE_OF_BAND = 0.1  # a move must stay below this share of the pretraining-seed band


def seed_bands(config, checkpoint) -> dict[str, dict[str, Estimate]]:
    """Per size, each compared number (and ``within <phenomenon>``) over the preset's committed
    pretraining-seed replicates at ``checkpoint``: ``{size: {number: Estimate}}``."""
    plan, reader = plan_of(config), Reader(config)
    estimates = {}
    for size in config.sizes:
        runs = [analysis for _, analysis in seed_replicates(plan, reader, size, checkpoint)]
        numbers = {key: Estimate(tuple(float(getattr(a.headline, key)) for a in runs)) for key in COMPARED}
        numbers |= {f"within {p}": Estimate(tuple(float(a.within.loc[p, "mean"]) for a in runs))
                    for p in runs[0].within.index}
        estimates[size] = numbers
    return estimates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--size", default="small")
    parser.add_argument("--checkpoint", default="final")
    parser.add_argument("--bf16-also", default="", metavar="FIELD=VALUE,...",
                        help="exact engine changes made in the bf16 run only, e.g. scoring.eval2=margins (within "
                             "1e-5 of the reference), so that the fp32 run can be the preset's committed space")
    args, extra = parser.parse_known_args()
    bf16_also = dict(item.split("=", 1) for item in args.bf16_also.split(",") if item)
    base = load_preset(args.preset, parse_dotted_args(extra))
    path = ensure_checkpoint(base, args.size, args.checkpoint, train_if_missing=False)
    runs = {}
    for precision in ("fp32", "bf16"):
        also = bf16_also if precision == "bf16" else {}
        config = apply_overrides(base, {"ftgd.precision": precision, "scoring.precision": precision, **also})
        started = time.perf_counter()
        # A committed space of this key (the preset's own fp32 reference) is read, not recomputed.
        space = Reader.read(config, model_identity(path))
        origin = "computed" if space is None else "read"
        if space is None:
            space = compute_space(config, path, label=f"{args.preset}-{args.size}-{path.name}-{precision}",
                                  progress=False)
        analysis = analyse(space, config)
        runs[precision] = {"space": space, "analysis": analysis, "config": config, "origin": origin,
                           "wall_s": time.perf_counter() - started}
    a, b = runs["fp32"]["analysis"], runs["bf16"]["analysis"]
    r = offdiag_pearson(a.similarity, b.similarity)
    verdicts = {k: claims.resembles_hypothesis(v["analysis"], k).verdict.value for k, v in runs.items()}
    high = {k: statistics.n_high(v["analysis"].within) for k, v in runs.items()}
    values = {key: (float(getattr(a.headline, key)), float(getattr(b.headline, key))) for key in COMPARED}
    values |= {f"within {p}": (float(a.within.loc[p, "mean"]), float(b.within.loc[p, "mean"])) for p in a.within.index}
    bands = seed_bands(base, args.checkpoint)
    compared = {}
    for name, (fp32, bf16) in values.items():
        band = band_for(bands[args.size][name], [by_size[name] for by_size in bands.values() if name in by_size])
        move = abs(bf16 - fp32)
        compared[name] = {"fp32": fp32, "bf16": bf16, "move": move, "seed_band": band,
                          "band_borrowed": len(bands[args.size][name].values) < 2, "share_of_band": move / band}
    too_large = sorted(name for name, c in compared.items() if not c["share_of_band"] < MAX_SHARE_OF_BAND)
    accepted = (r >= MIN_SIMILARITY_R and verdicts["fp32"] == verdicts["bf16"] and high["fp32"] == high["bf16"]
                and not too_large)
    result = {"preset": args.preset, "size": args.size, "checkpoint": path.name,
              "rule": {"min_similarity_r": MIN_SIMILARITY_R, "max_share_of_band": MAX_SHARE_OF_BAND},
              "similarity_pearson_r": r, "claim1_verdict": verdicts, "n_phenomena_high": high,
              "compared": compared, "moves_not_below_a_tenth_of_the_band": too_large,
              "largest_share_of_band": max(c["share_of_band"] for c in compared.values()),
              "bf16_accepted": accepted,
              "keys": {k: v["space"].meta["key_hash"] for k, v in runs.items()},
              "origin": {k: v["origin"] for k, v in runs.items()}, "bf16_also": bf16_also,
              # job_s: eval1 plus every fine-tune-and-eval2 job, as stored with the space (so a reload
              # keeps it); wall_s: this invocation, near zero when the spaces were already stored
              "job_s": {k: v["space"].meta["eval1_time_s"] + sum(v["space"].meta["job_time_s"].values())
                        for k, v in runs.items()},
              "wall_s": {k: v["wall_s"] for k, v in runs.items()}}
    out = HERE / "results" / f"precision_space_{args.preset}_{args.size}.json"
    atomic_write_json(out, provenance(kind="benchmark", benchmark="precision_space", **result))
    print(f"similarity r = {r:.4f}; claim 1: {verdicts}; phenomena >= {statistics.HIGH_WITHIN}: {high}; largest move "
          f"{result['largest_share_of_band']:.2f} of its seed band ({', '.join(too_large) or 'none'} at or over "
          f"{MAX_SHARE_OF_BAND}); bf16 accepted: {accepted} -> {out}")


if __name__ == "__main__":
    main()
