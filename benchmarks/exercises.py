"""Run time of every "Try it yourself" exercise, as a seminar group would run it.

    python benchmarks/exercises.py [--preset tiny] [--work-dir runs] [--only ID ...]

The starting point is the state after the preset's book has been built once (``PRESET=tiny
bash scripts/main.sh``): its checkpoints and default task spaces are in ``--work-dir``; the
book is built first if they are not. Each exercise then runs exactly as its command in the
notebook says (``taskspace run``, i.e. papermill), on its own copy of that state, so every time
is measured from the same start and no exercise profits from another's spaces. Results go to
``benchmarks/results/exercises_<preset>.json`` with provenance; the notebooks and the seminar
guide read them from there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from taskspace_core.book.build import build_book, run_notebook
from taskspace_core.book.exercises import EXERCISES
from taskspace_core.config import load_preset, preset_hash
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--work-dir", default="runs")
    parser.add_argument("--only", nargs="*", default=None, help="exercise ids (default: all)")
    args = parser.parse_args()
    config = load_preset(args.preset, {"work_dir": args.work_dir})
    state = config.run_dir()
    out = HERE / "results" / f"exercises_{args.preset}.json"
    previous = {r["id"]: r for r in json.loads(out.read_text())["exercises"]} if out.exists() else {}

    started = time.perf_counter()
    build_book(args.preset, args.work_dir, Path(tempfile.mkdtemp()) / "book", log=print)  # the starting state
    print(f"starting state ({state}) ready in {time.perf_counter() - started:.0f}s", flush=True)

    records = dict(previous)
    for exercise in EXERCISES:
        if args.only and exercise.id not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "runs"
            shutil.copytree(state, work / args.preset)  # the book-built state, private to this exercise
            before = set((work / args.preset / "spaces").iterdir())
            pairs = [*exercise.parameter_pairs(args.preset), ("work_dir", str(work))]
            t0 = time.perf_counter()
            run_notebook(exercise.notebook, pairs, Path(tmp) / f"{exercise.id}.ipynb", log=print)
            seconds = time.perf_counter() - t0
            new_spaces = len(set((work / args.preset / "spaces").iterdir()) - before)
        records[exercise.id] = {"id": exercise.id, "notebook": exercise.notebook, "parameters": exercise.parameters,
                                "seconds": round(seconds, 1), "new_spaces": new_spaces,
                                "command": exercise.command(args.preset), "preset_hash": preset_hash(args.preset)}
        print(f"{exercise.id}: {seconds:.0f}s, {new_spaces} new task space(s)", flush=True)
        atomic_write_json(out, provenance(kind="exercise_timings", preset=args.preset, preset_hash=preset_hash(args.preset),
                                          python=sys.version.split()[0],
                                          start="the preset's book built once (checkpoints and default spaces)",
                                          exercises=list(records.values())))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
