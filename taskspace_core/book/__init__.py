"""The book: notebooks executed into a Jupyter Book, its charts, explorer, slides and exercises.

    notebook      notebook parameters -> config, the plan and its spaces, glue between numbers and prose
    build         papermill execution of the notebooks and the Jupyter Book build
    sphinx_ext    the build's Sphinx extension: the chart bundle on every page, no script twice
    plots         the book's altair charts: tooltips on every mark, a phenomenon menu on heatmaps
    interactive   offline interactive charts: the altair renderer, the myst-nb plugin, the Vega bundle
    explorer      the explorer page: every space of a preset, browsable in the browser
    slides        the reveal.js deck (``taskspace slides``), offline
    exercises     the "Try it yourself" exercises the notebooks, seminar guide and benchmark share
    measurements  the benchmark results the book reports (``benchmarks/results``)
"""
