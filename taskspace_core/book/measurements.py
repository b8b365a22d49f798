"""The benchmark measurements the book reports, read from ``benchmarks/results/*.json``.

Every table of timings, throughputs and recipe sweeps in the reproducing chapter comes from
these functions, so a chapter never parses a benchmark file itself. Each function reads the
files written by one script in ``benchmarks/`` (named in its docstring).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..config import PRESETS, load_preset
from ..lm.checkpoints import find_checkpoint_meta
from ..paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def throughput(name: str, results_dir: Path = RESULTS_DIR) -> tuple[dict, dict[str, float], pd.DataFrame]:
    """``pretrain_throughput_<name>.json`` (``benchmarks/pretrain_throughput.py``): the run, its
    matmul ceilings by dtype, and one row per size and precision (tokens/s, model GFLOP/s and
    the share of the ceiling of the dtype the step ran in)."""
    bench = _read(Path(results_dir) / f"pretrain_throughput_{name}.json")
    peaks = bench.get("ceiling_gflops", {"fp32": max(bench["matmul_gflops"].values())})
    table = pd.DataFrame([{"size": r["size"], "precision": r.get("precision", "fp32"),
                           "parameters (M)": r["n_parameters"] / 1e6, "tokens/s": r["tokens_per_s"],
                           "model GFLOP/s": r["model_gflops"],
                           "share of its dtype's ceiling": r["fraction_of_matmul_ceiling"]}
                          for r in bench["results"]])
    return bench, peaks, table


def throughput_change(before: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """``now`` (a :func:`throughput` table) with ``before tokens/s`` (the same size in ``before``)
    and ``speed-up`` (now over before) columns."""
    both = now.merge(before[["size", "tokens/s"]].rename(columns={"tokens/s": "before tokens/s"}), on="size")
    return both.assign(**{"speed-up": both["tokens/s"] / both["before tokens/s"]})


def speed_rows(path: Path, label: str) -> list[dict]:
    """One row per size of a ``benchmarks/speed.py`` run (none if the file is missing): scoring
    throughput, its share of the run's matmul ceiling (useful: scored tokens; executed: positions
    the model ran), agreement with one-at-a-time scoring, minicons' speed, fine-tune time, the
    projected task space and peak memory."""
    path = Path(path)
    if not path.exists():
        return []
    run = _read(path)
    ceiling = run["matmul"]["ceiling_gflops"]
    rows = []
    for r in run["sizes"]:
        sc, mc, ft = r["scoring"], r["minicons"], r["finetune"]
        executed = sc.get("positions_computed", sc["tokens"] + 2 * sc["pairs"])
        rows.append({
            "engine": label, "size": r["size"], "parameters (M)": sc["n_parameters"] / 1e6,
            "scoring tokens/s": sc["tokens_per_s"], "pairs/s": sc["pairs_per_s"],
            "useful share of ceiling": sc["gflops"] / ceiling,
            "executed share of ceiling": 2 * sc["n_parameters"] * executed / sc["seconds"] / 1e9 / ceiling,
            "max |Δ log p| vs one-at-a-time": sc["reference_max_abs_diff"],
            "minicons pairs/s": mc.get("pairs_per_s", float("nan")),
            "× minicons": sc["pairs_per_s"] / mc["pairs_per_s"] if "pairs_per_s" in mc else float("nan"),
            "fine-tune s/paradigm": ft["mean_s"], "task space (min, projected)": r["projected_space_s"] / 60,
            "peak memory (MB)": max(sc["peak_rss_mb"], ft["peak_rss_mb"]),
            "commit": run["git_commit"][:7],
        })
    return rows


def packing_saves(path: Path) -> float:
    """The share of an evaluation pass's positions that pair packing saves, from a ``speed.py``
    run's first size (NaN if the run is missing or predates the measurement)."""
    path = Path(path)
    scoring = _read(path)["sizes"][0]["scoring"] if path.exists() else {}
    if "positions_computed" not in scoring:
        return float("nan")
    return 1 - scoring["positions_computed"] / (scoring["tokens"] + 2 * scoring["pairs"])


def matmul_ceilings(results_dir: Path = RESULTS_DIR) -> list[float]:
    """The matmul ceiling (GFLOP/s) measured by every stored benchmark run that measured one."""
    ceilings = []
    for path in sorted(Path(results_dir).glob("*.json")):
        run = _read(path)
        if "matmul_gflops" in run:
            ceilings.append(max(run["matmul_gflops"].values()))
        elif "matmul" in run:
            ceilings.append(run["matmul"]["ceiling_gflops"])
    return ceilings


def end_to_end_runs(results_dir: Path = RESULTS_DIR) -> pd.DataFrame:
    """Every stored ``speed.py --end-to-end`` run: preset, wall time, exit code, peak memory, file, commit.

    The preset is named as the file is (``speed_<preset>_end_to_end.json``), not by the run's own
    ``preset`` field, which keeps the name the preset had when it was measured.
    """
    rows = []
    for path in sorted(Path(results_dir).glob("*.json")):
        run = _read(path)
        if run.get("benchmark") == "speed" and run.get("end_to_end"):
            e = run["end_to_end"]
            named = re.fullmatch(r"speed_(.+)_end_to_end\.json", path.name)
            rows.append({"preset": named.group(1) if named else e["preset"],
                         "wall time (min)": e["seconds"] / 60, "exit code": e["returncode"],
                         "peak memory of one process (MB)": e["peak_rss_mb_largest_process"],
                         "file": path.name, "commit": run["git_commit"][:7]})
    return pd.DataFrame(rows)


def recipe_sweeps(results_dir: Path = RESULTS_DIR) -> list[tuple[str, str, pd.DataFrame]]:
    """Every ``recipe_sweep_<name>.json`` (``benchmarks/recipe_sweep.py``) as ``(name, commit, table)``:
    one row per run with its overrides, size, tokens, validation loss (nats/token and bits/byte)
    and tokens/s, the best run by bits/byte marked."""
    sweeps = []
    for path in sorted(Path(results_dir).glob("recipe_sweep_*.json")):
        sweep = _read(path)
        table = pd.DataFrame([{"size": r["size"],
                               "runs with": ", ".join(f"{k} = {v}" for k, v in (r["base"] | r["variant"]).items()),
                               "parameters (M)": r["n_parameters"] / 1e6, "tokens (M)": r["tokens_seen"] / 1e6,
                               "val loss (nats/token)": r["val_loss"], "val bits/byte": r["val_bits_per_byte"],
                               "tokens/s": r["tokens_per_s"]} for r in sweep["results"]])
        table["best"] = ["◀" if v == table["val bits/byte"].min() else "" for v in table["val bits/byte"]]
        sweeps.append((path.stem.removeprefix("recipe_sweep_"), sweep["git_commit"][:7], table))
    return sweeps


def end_to_end_minutes(preset: str, results_dir: Path = RESULTS_DIR) -> float:
    """The main job's measured wall time for ``preset`` (``speed_<preset>_end_to_end.json``), in minutes."""
    return _read(Path(results_dir) / f"speed_{preset}_end_to_end.json")["end_to_end"]["seconds"] / 60


def gpu_check(name: str = "h200", results_dir: Path = RESULTS_DIR) -> tuple[dict, Path | None, str | None]:
    """``gpu_check_<name>.json`` (``benchmarks/gpu_check.py``), the committed CPU space its device
    space was held against, and the preset whose committed checkpoint its repeated pretraining
    run repeats. The paper jobs are always per size (``by_size``), also in a file written when
    only the largest size was timed. Both are found by hash (the space's key, the run's pretraining hash), so a
    renamed preset still finds them; None where nothing committed matches."""
    card = _read(Path(results_dir) / f"gpu_check_{name}.json")
    jobs = card["parts"]["paper_jobs"]
    if "by_size" not in jobs:  # a file that timed one size keeps it at the top level
        jobs["by_size"] = {jobs["size"]: {k: jobs[k] for k in ("paradigms", "test_pairs", "eval1_s", "sources",
                                                              "projected_space_s")}}
    key_hash = card["parts"]["space"]["key_hash"]
    spaces = [m.parent for m in REPO_ROOT.glob("results/*/spaces/*/manifest.json")
              if _read(m).get("key_hash") == key_hash]
    rerun = card["parts"]["repretrain"]
    presets = [p for p in PRESETS if rerun["size"] in load_preset(p).sizes
               and (find_checkpoint_meta(load_preset(p), rerun["size"]) or {}).get("pretrain_hash") == rerun["pretrain_hash"]]
    return card, (spaces[0] if spaces else None), (presets[0] if presets else None)


def space_cost(preset: str = "cpu", results_dir: Path = RESULTS_DIR) -> tuple[dict, pd.DataFrame]:
    """``space_cost_<preset>.json`` (``benchmarks/space_cost.py``): the run (targets, whether each
    was met, the plan priced) and one row per profiled size: one task space's wall time on two
    workers before the engine's changes, with margin-only eval2 in fp32 and in bf16, the accepted
    engine's speed-up and precision, the exact path's max |Δ margin| and eval2's share of the
    one-thread matmul ceilings. An empty table when the file is missing."""
    path = Path(results_dir) / f"space_cost_{preset}.json"
    if not path.is_file():
        return {}, pd.DataFrame()
    run = _read(path)
    rows = [{"size": size, "parameters (M)": r["parameters"] / 1e6, "checkpoint": r["checkpoint"],
             "before (min)": r["before_s"] / 60, "margins fp32 (min)": r["fp32_margins_s"] / 60,
             "margins bf16 (min)": (r["bf16_margins_s"] or float("nan")) / 60,
             "accepted engine (min)": r["after_s"] / 60, "speed-up": r["speedup"], "precision": r["precision"],
             "max |Δ margin|": r["max_abs_margin_delta"],
             "eval2 share of fp32 ceiling": r["eval2_share_of_ceiling"]["after"],
             "eval2 share of bf16 ceiling": r["eval2_share_of_ceiling"].get("bf16", float("nan")),
             "mask set (min)": r["mask_set_s"] / 60}
            for size, r in run["sizes"].items()]
    return run, pd.DataFrame(rows).sort_values("parameters (M)", ignore_index=True)  # smallest first


def precision_space(preset: str, size: str, results_dir: Path = RESULTS_DIR) -> dict | None:
    """``precision_space_<preset>_<size>.json`` (``benchmarks/precision_space.py``): the bf16
    acceptance of one size (r, claim-1 verdicts, every compared number's move as a share of its
    seed band, the rule), or None where it was not run."""
    path = Path(results_dir) / f"precision_space_{preset}_{size}.json"
    return _read(path) if path.is_file() else None
