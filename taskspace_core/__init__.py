"""taskspace_core: task spaces of language models (Weber et al., ACL 2024), reimplemented.

One concept per module:

- ``config``      frozen dataclasses, YAML presets, dotted overrides, stable hashes
- ``blimp``       load + validate the 67 BLiMP paradigms, taxonomy, pair-level splits
- ``corpus``      Gutenberg corpus preparation and byte-level BPE tokenizer training
- ``models``      size registry -> HF config; load any HF causal LM
- ``precision``   fp32 / bf16 / auto: resolution, autocast, what keys record
- ``fused_loss``  chunked output projection + cross-entropy (no full logits) for bf16 pretraining
- ``pretrain``    training loop, checkpoint schedule, resume
- ``scoring``     exact, batched minimal-pair log-prob scorer
- ``accuracy``    BLiMP accuracy of checkpoints (per-pair scores) beside BLiMP's published baselines
- ``ftgd``        fine-tuning via gradient differentials (masked), and plain fine-tuning
- ``probing``     transfer probing: eval1, per-paradigm fine-tune + eval2, the TaskSpace
- ``distributed`` the per-paradigm jobs on Dask (LocalCluster or an existing cluster)
- ``similarity``  similarity matrices from transfers, FTGD masks and vocabulary
- ``hypothesis``  the hypothesis space, Mantel tests, within-phenomenon tables
- ``report``      a task space's analysis and the files the book reads
- ``store``       content-addressed results store (atomic, hash-checked, resumable, one worker per job)
- ``reference``   the committed reference results: what the book needs, export, checks
- ``claims``      the rules that hold the paper's claims against our numbers
- ``cost``        FLOP budgets of pretraining and task spaces
- ``provenance``  git commit, package versions, data hashes, atomic JSON writes
- ``notebook``    what the book's notebooks share: parameters -> config, cached spaces, glue
- ``plots``       static altair charts (vl-convert), so the book reads offline
- ``book``        papermill execution of the notebooks and the Jupyter Book build
- ``exercises``   the "Try it yourself" exercises the notebooks, seminar guide and benchmark share
- ``slides``      the reveal.js deck (``taskspace slides``), offline
- ``errors``      the exceptions the CLI turns into one-line messages
- ``cli``         the ``taskspace`` command
"""

__version__ = "0.1.0"
