"""Run time of every "Try it yourself" exercise, as a seminar group would run it.

    python benchmarks/exercises.py [--only ID ...]

The starting point is a fresh clone: the committed results of the exercises' preset
(``taskspace_core.book.exercises.PRESET``) and the weights it ships, and an empty work
directory. Each exercise runs exactly as its command in the notebook says (``taskspace run``,
i.e. papermill) in a work directory of its own, so every time is measured from the same start,
includes installing the shipped weights where the exercise needs them, and no exercise profits
from another's spaces. Results go to ``benchmarks/results/exercises_<preset>.json`` with
provenance; the notebooks and the seminar guide read them from there. Run it on an otherwise
idle machine: the times are what a seminar group waits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from taskspace_core.book.build import run_notebook
from taskspace_core.book.exercises import EXERCISES, PRESET
from taskspace_core.config import preset_hash
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="exercise ids (default: all)")
    args = parser.parse_args()
    out = HERE / "results" / f"exercises_{PRESET}.json"
    previous = {r["id"]: r for r in json.loads(out.read_text())["exercises"]} if out.exists() else {}
    records = {i: r for i, r in previous.items() if any(e.id == i for e in EXERCISES)}  # dropped ones go
    for exercise in EXERCISES:
        if args.only and exercise.id not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "runs"  # empty: what a fresh clone has
            pairs = [*exercise.parameter_pairs(PRESET), ("work_dir", str(work))]
            t0 = time.perf_counter()
            run_notebook(exercise.notebook, pairs, Path(tmp) / f"{exercise.id}.ipynb", log=print)
            seconds = time.perf_counter() - t0
            spaces = work / PRESET / "spaces"
            new_spaces = len(list(spaces.iterdir())) if spaces.is_dir() else 0
        records[exercise.id] = {"id": exercise.id, "notebook": exercise.notebook, "kind": exercise.kind,
                                "parameters": exercise.parameters, "seconds": round(seconds, 1),
                                "new_spaces": new_spaces, "command": exercise.command(PRESET),
                                "preset_hash": preset_hash(PRESET)}
        print(f"{exercise.id}: {seconds:.0f}s, {new_spaces} new task space(s)", flush=True)
        atomic_write_json(out, provenance(kind="exercise_timings", preset=PRESET, preset_hash=preset_hash(PRESET),
                                          python=sys.version.split()[0],
                                          start="a fresh clone: committed results and shipped weights, an empty work dir",
                                          exercises=[records[e.id] for e in EXERCISES if e.id in records]))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
