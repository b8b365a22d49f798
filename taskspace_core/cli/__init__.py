"""The ``taskspace`` command.

    taskspace data     [--data-dir D] [--taxonomy 12|13]
    taskspace sizes    [--preset P]
    taskspace pretrain --preset P [--size S] [--out DIR] [--data-dir D] [--section.field VALUE ...]
    taskspace score    --model DIR --out FILE.csv [--paradigms a,b] [--max-pairs N]
                       [--split test|train|all] [--preset P] [--data-dir D] [--section.field VALUE ...]
    taskspace ftgd     --model DIR --paradigm NAME --out DIR [--threshold T] [--steps N] [--lr LR]
                       [--method ftgd|plain] [--eval all|self] [--preset P] [--section.field VALUE ...]
    taskspace space    --preset P [--size S] [--checkpoint final|EPOCH] [--model DIR [--revision R]]
                       [--section.field VALUE ...]        e.g. --ftgd.threshold 1e-3 --space.metric accuracy
    taskspace masks    --preset P [--size S] [--checkpoint final|EPOCH] [--model DIR]  FTGD masks only, no eval2
    taskspace book     [--preset P] [--work-dir DIR] [--out DIR] [--device D] [--read-only]  execute the notebooks, build the book
                       (default preset cpu: renders the committed reference results in results/cpu)
    taskspace reproduce --preset P [--book] [--section.field VALUE ...]
                       pretrain, compute every space the book needs, export each into results/<P>
    taskspace results  [--preset P]                       check the committed results: complete, hashes match
    taskspace slides   [--preset P] [--out DIR]           a reveal.js deck of the key figures and numbers (offline)
    taskspace run      NOTEBOOK [-p NAME VALUE ...] [--out FILE.ipynb] [--device D]  re-execute one notebook

Every command that computes takes ``--device cpu|cuda|cuda:N|mps|auto``; ``space``
and ``reproduce`` take ``--workers N`` (a Dask LocalCluster) or ``--scheduler ADDRESS`` (an
existing Dask cluster) for the per-paradigm jobs (``pip install 'taskspace[distributed]'``).

    args       the options several commands share; dotted config overrides
    commands   one function per command (each imports the package lazily: ``--help`` is instant)
    main       the parser, and ``main`` with its one-line errors

Bad input (unknown paradigm, phenomenon, preset, size or config field; a value of the wrong
type or out of range; an unreadable or non-causal-LM model directory; a malformed data file; a
full or read-only output directory) ends with a one-line ``taskspace: error: ...`` and exit
status 2, before anything is written (or, for a disk that fills up mid-run, keeping every
finished result).
"""

from .main import main

__all__ = ["main"]
