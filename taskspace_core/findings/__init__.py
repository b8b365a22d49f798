"""Findings: the paper's claims and each chapter's tables, read from the plan's spaces by role.

    evidence  the plan's spaces held against the claims' rules: the verdicts and the numbers behind them
    training  claims 3 and 4 over training, with claim 4's bands from the plan's mask sets
    marks     what a verdict carries beside its reading (a sparse rule that coincides with the threshold)
    chapters  what the chapters show beside the claims (size steps, dynamics yardsticks, sweeps, depth)

Each function takes the plan and a space source (``spaces(request) -> (space, analysis)``: a
reader of committed results, or one that computes what is missing); nothing here computes.
"""
