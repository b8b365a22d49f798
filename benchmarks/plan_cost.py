"""What a preset's whole plan costs at the engine's measured rates, before it runs.

    python benchmarks/space_profile.py --preset cpu-next --size S --sources 3 --threads 1 --variant "after:"
        (for every size, on an idle machine, one after the other)
    python benchmarks/plan_cost.py --preset cpu-next [--budget-hours 24]

Reads ``benchmarks/results/space_profile_<preset>.json`` (one variant per size: the preset's own
engine, one thread per worker) and prices every planned space and mask set in the order
``taskspace reproduce`` runs them (:func:`taskspace_core.plan.cost.priced_plan`), adds the
pretraining the preset's records measured (every run's final checkpoint, replicates included),
and says where the budget runs out. Results: ``benchmarks/results/plan_cost_<preset>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from taskspace_core.config import load_preset
from taskspace_core.plan.cost import priced_plan
from taskspace_core.plan.stages import run_stages
from taskspace_core.provenance import atomic_write_json, provenance

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-next")
    parser.add_argument("--budget-hours", type=float, default=24.0, help="machine time for pretraining and spaces")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = load_preset(args.preset)
    profile_file = HERE / "results" / f"space_profile_{args.preset}.json"
    profile = json.loads(profile_file.read_text())["sizes"]
    stages = run_stages(config)
    pretraining = stages[stages.stage.str.startswith("pretrain ")]
    pretrain_h = float(pretraining.minutes.sum() / 60)
    plan = priced_plan(config, profile, args.workers)
    plan["total hours"] = plan["cumulative hours"] + pretrain_h
    within = plan[plan["total hours"] <= args.budget_hours]
    by_purpose = plan.groupby("purpose", sort=False)["hours"].agg(["count", "sum"]).rename(columns={"sum": "hours"})
    for _, row in plan.iterrows():
        print(f"{row['total hours']:6.2f} h  {row['hours'] * 60:5.1f} min  {row['kind']:8}  {row['stage']}")
    print(by_purpose.round(2).to_string())
    last = within.iloc[-1]["stage"] if len(within) else None
    print(f"pretraining {pretrain_h:.2f} h (measured, {len(pretraining)} runs) + spaces {plan.hours.sum():.2f} h "
          f"= {pretrain_h + plan.hours.sum():.2f} h against a budget of {args.budget_hours:g} h; "
          + ("everything fits" if len(within) == len(plan) else f"the budget runs out after '{last}'"))
    out = HERE / "results" / f"plan_cost_{args.preset}.json"
    atomic_write_json(out, provenance(
        kind="benchmark", benchmark="plan_cost", preset=args.preset, profile=profile_file.name, workers=args.workers,
        budget_hours=args.budget_hours, pretraining_hours=pretrain_h, pretraining_runs=len(pretraining),
        spaces_hours=float(plan.hours.sum()), total_hours=pretrain_h + float(plan.hours.sum()),
        fits=bool(len(within) == len(plan)), last_within_budget=last,
        by_purpose=by_purpose.reset_index().to_dict("records"), plan=plan.to_dict("records")))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
