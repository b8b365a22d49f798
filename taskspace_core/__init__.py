"""taskspace_core: task spaces of language models (Weber et al., ACL 2024), reimplemented.

One concept per module:

- ``config``      frozen dataclasses, YAML presets, dotted overrides, stable hashes
- ``blimp``       load + validate the 67 BLiMP paradigms, taxonomy, pair-level splits
- ``corpus``      Gutenberg corpus preparation and byte-level BPE tokenizer training
- ``models``      size registry -> HF config; load any HF causal LM
- ``pretrain``    training loop, checkpoint schedule, resume
- ``scoring``     exact, batched minimal-pair log-prob scorer
- ``ftgd``        fine-tuning via gradient differentials (masked), and plain fine-tuning
- ``probing``     transfer probing: eval1, per-paradigm fine-tune + eval2, the TaskSpace
- ``similarity``  similarity matrices from transfers, FTGD masks and vocabulary
- ``hypothesis``  the hypothesis space, Mantel tests, within-phenomenon tables
- ``report``      a task space's analysis and the files the book reads
- ``store``       content-addressed results store (atomic, hash-checked, resumable)
- ``provenance``  git commit, package versions, data hashes, atomic JSON writes
- ``cli``         the ``taskspace`` command
"""

__version__ = "0.1.0"
