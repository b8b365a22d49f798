"""taskspace_core: task spaces of language models (Weber et al., ACL 2024), reimplemented.

The package in layers, each reaching only those above it in this list (``tests/test_architecture.py``):

- ``config/``, ``paths``, ``errors``, ``provenance``: the schema of every setting, where things
  live, the one-line errors, provenance and atomic writes
- ``corpora/``  the data: minimal pairs (BLiMP) and the children's-book corpus
- ``lm/``       the language models: registry, identity, checkpoints, pretraining
- ``analysis/`` a task space and everything read from it, from numbers alone: similarity, the
  hypothesis space, the rules of the paper's claims
- ``results/``  results on disk: keys, the run store, reading and exporting committed results
- ``engine/``   scoring, FTGD and the jobs a task space is computed from, and where they run
- ``plan/``     which spaces a preset's book needs (each with its role), computing and checking them
- ``findings/`` the claims' verdicts and each chapter's tables, read from the plan's spaces by role
- ``book/``     the Jupyter Book: notebook glue, charts, explorer, slides, exercises
- ``cli/``      the ``taskspace`` command

Reading never computes: ``results.read.Reader`` reads a space or fails in one line naming what
is missing; ``plan.ensure.Ensurer`` computes what is missing. Each folder's ``__init__`` lists
its modules.
"""

import warnings

__version__ = "0.1.0"  # the one version string (pyproject.toml reads it)

# transformers imports tqdm.auto, which in a notebook kernel without ipywidgets warns (with this
# machine's path) that it falls back to text progress bars: harmless, and not for a book's pages
warnings.filterwarnings("ignore", message="IProgress not found")
