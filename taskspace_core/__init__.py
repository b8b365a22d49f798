"""taskspace_core: task spaces of language models (Weber et al., ACL 2024), reimplemented.

One concept per module:

- ``config``      frozen dataclasses, YAML presets, dotted overrides, stable hashes
- ``blimp``       load + validate the 67 BLiMP paradigms, taxonomy, pair-level splits
- ``corpus``      Gutenberg corpus preparation and byte-level BPE tokenizer training
- ``models``      size registry -> HF config; load any HF causal LM
- ``precision``   fp32 / bf16 / auto: resolution, autocast, what keys record
- ``fused_loss``  chunked output projection + cross-entropy (no full logits) for bf16 pretraining
- ``pretrain``    training loop, checkpoint schedule, resume; what identifies a checkpoint
- ``checkpoints`` find a checkpoint (run directory or committed copy), verify it, train it if missing
- ``scoring``     exact, batched minimal-pair log-prob scorer
- ``accuracy``    BLiMP accuracy of any model and of our checkpoints (per-pair scores), beside BLiMP's baselines
- ``ftgd``        fine-tuning via gradient differentials (masked), and plain fine-tuning
- ``probing``     the jobs of transfer probing (eval1; per paradigm fine-tune + eval2) and their store key
- ``executors``   where those jobs run: serially, in local processes, or on Dask
- ``task_space``  the TaskSpace: transfers with bootstrap intervals, assembled from the stored jobs
- ``similarity``  similarity matrices from transfers, FTGD masks and vocabulary
- ``hypothesis``  the hypothesis space, Mantel tests, within-phenomenon tables
- ``report``      a task space's analysis, the tables the chapters show, and the files the book reads
- ``store``       content-addressed results store (atomic, hash-checked, resumable, one worker per job)
- ``results``     committed results: export a space without weights, find it by key, load it; the cache
- ``experiments`` the book's plan (the spaces each chapter needs, from the config's ``book`` section), ``reproduce``, completeness checks, cost per stage
- ``replicates``  one number over replicate runs (seeds, splits): its mean and band, and differences against it
- ``claims``      the rules that hold the paper's claims against our numbers
- ``evidence``    a preset's spaces loaded and held against those rules (one run per size, or replicates)
- ``paper``       the paper's reported numbers (its within-phenomenon table) and our agreement with them
- ``cost``        FLOP budgets of pretraining and task spaces, held against measured wall times
- ``measurements`` the benchmark results the book reports (``benchmarks/results``)
- ``provenance``  git commit, package versions, data hashes, atomic JSON writes
- ``notebook``    notebook parameters -> config, and glue between numbers and prose
- ``plots``       the book's altair charts: tooltips on every mark, a phenomenon menu on heatmaps
- ``interactive`` offline interactive charts: the altair renderer, the myst-nb plugin, the Vega bundle
- ``explorer``    the explorer page: every committed space of a preset, browsable in the browser
- ``book``        papermill execution of the notebooks and the Jupyter Book build
- ``sphinx_ext``  the build's Sphinx extension: the chart bundle on every page, no script twice
- ``exercises``   the "Try it yourself" exercises the notebooks, seminar guide and benchmark share
- ``slides``      the reveal.js deck (``taskspace slides``), offline
- ``errors``      the exceptions the CLI turns into one-line messages
- ``cli``         the ``taskspace`` command
"""

__version__ = "0.1.0"  # the one version string (pyproject.toml reads it)
