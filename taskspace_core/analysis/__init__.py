"""Analysis: a task space and everything read from it, computed from numbers alone (no model).

    space       the TaskSpace: per-pair margins, transfers and their bootstrap intervals
    similarity  similarity matrices from transfers, FTGD masks and vocabulary
    hypothesis  the hypothesis space, Mantel tests, within-phenomenon tables
    memo        an on-disk memo of pure analyses (the committed Mantel tests)
    report      a task space's analysis and the tables the chapters show
    accuracy    BLiMP accuracy from per-pair scores, beside BLiMP's published baselines
    ladder      is a preset's set of sizes a ladder: each larger model the better language model, and on BLiMP
    replicates  one number over replicate runs: its mean and band, and differences against it
    claims      the rules that hold the paper's claims against our numbers
    paper       the paper's reported numbers and our agreement with them
"""
