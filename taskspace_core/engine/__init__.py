"""The engine: scoring, fine-tuning and the jobs a task space is computed from.

    scoring       exact, batched minimal-pair log-prob scorer
    ftgd          fine-tuning via gradient differentials (masked), and plain fine-tuning
    probing       the jobs of a task space (eval1; per paradigm fine-tune + eval2) on a loaded model
    executors     where those jobs run: serially, in local processes, or on Dask
    compute       a task space computed: the missing jobs run, the stored ones assembled
    blimp_scores  checkpoints scored on BLiMP's test pairs, kept as per-pair scores
"""
