"""The plan: which task spaces a preset's book needs, and getting them computed and checked.

    requests   the plan as data: every space with its role (final, null, replicate, sweep, ...)
    ensure     a space read, else computed (pretraining first): Ensurer
    reproduce  every planned space computed and exported into committed results, resumably
    checks     committed results complete (every planned space) and intact (every hash)
    stages     what a run has cost per stage; the presets side by side
    cost       FLOP budgets of pretraining and task spaces, held against measured rates
"""
