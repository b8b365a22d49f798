"""A short reveal.js deck of the book's key figures and numbers, built offline.

    taskspace slides [--preset cpu] [--out DIR]   ->  DIR/index.html (default _build/slides/<preset>)

The deck draws on the same task spaces as the book (committed results first, then the run
store; see :func:`~taskspace_core.book.notebook.book_plan`) and computes its numbers with the same
functions, so a slide can never disagree with its chapter. Figures are inline SVG (altair via
vl-convert) and reveal.js is vendored (``slides_assets/reveal``), so the deck opens from disk
with no network.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import altair as alt
import numpy as np
import vl_convert as vlc

from ..analysis import statistics
from ..findings.evidence import ReplicatedEvidence, replicated_claims, training_steps
from ..analysis.hypothesis import HIGH_WITHIN
from ..analysis.replicates import Estimate
from ..config import Config
from ..paths import REPO_ROOT
from ..provenance import atomic_write_text, git_commit
from . import plots
from .notebook import book_plan, notebook_config

ASSETS = Path(__file__).resolve().parent / "slides_assets" / "reveal"
PAPER_SHARE = "about 5%"  # the paper's statement of its FTGD mask share (see the critique chapter)


def _svg(chart: alt.TopLevelMixin) -> str:
    return vlc.vegalite_to_svg(chart.to_json())


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, body: str) -> str:
    return f"<section>\n<h3>{html.escape(title)}</h3>\n{body}\n</section>"


def slide_sections(config: Config, evidence: ReplicatedEvidence) -> list[str]:
    """The deck's slides as reveal.js ``<section>`` blocks: questions, method, task space, size and
    dynamics, the verdicts, critique."""
    rq1_size = config.chapter_size("rq1")
    space, analysis = evidence.final[rq1_size][0]
    h = analysis.headline
    null = (f"; the untrained network's r = {evidence.untrained[rq1_size][1].headline.hypothesis_pearson:+.3f}"
            if rq1_size in evidence.untrained else "; no untrained space of this size")
    sections = [
        f"<section>\n<h2>Task spaces of language models, re-run</h2>\n"
        f"<p>Weber, Jumelet, Bruni &amp; Hupkes (ACL 2024), reimplemented and re-run</p>\n"
        f"<p><small>preset <code>{html.escape(config.preset)}</code> · code {html.escape(git_commit()[:12])}"
        f"</small></p>\n</section>",
        _section("The paper's three questions", "<ol>"
                 "<li>Does a model's <em>task space</em> resemble the linguists' <em>hypothesis space</em>?</li>"
                 "<li>Is it more so in larger models?</li>"
                 "<li>How does it develop during pretraining?</li></ol>"
                 "<p>Tasks are the 67 BLiMP paradigms in 12 phenomena, 1000 minimal pairs each.</p>"),
        _section("The method", "<ul>"
                 "<li><b>FTGD</b>: gradient differential g = ∇log p(good) − ∇log p(bad); "
                 "update only parameters with |g| ≥ 10⁻³.</li>"
                 "<li><b>Transfer probing</b>: score all paradigms (eval1), fine-tune on one, score all "
                 "again (eval2); row p of the transfer matrix is eval2 − eval1.</li>"
                 "<li><b>Task space</b>: similarity of paradigms' transfer profiles, compared with the "
                 "<b>hypothesis space</b> (same phenomenon = similar) by a Mantel test.</li>"
                 "<li><b>Yardsticks</b>: the same test on the untrained network, and the spread between "
                 "replicate runs; a difference inside that spread is <em>inconclusive</em>.</li></ul>"),
        _section(f"Our task space ({rq1_size} model)",
                 _svg(plots.matrix_heatmap(analysis.similarity, space.paradigms, space.phenomena,
                                           "Task-space similarity, hypothesis blocks outlined",
                                           value="similarity", domain=(-1, 1), size=330))
                 + f"<p>r = {h.hypothesis_pearson:+.3f} with the hypothesis space (Mantel p = "
                   f"{h.mantel_p:.4f}){null}; controlling for shared words and for the words the pairs "
                   f"differ in, r = {h.partial_mantel_both_r:+.3f}</p>"),
    ]
    size_rows = [[f"{s} ({evidence.parameters_m[s]:.2f}M)", f"{spaces[0][1].headline.eval1_accuracy:.3f}",
                  Estimate(tuple(statistics.mean_over_phenomena(an.within) for _, an in spaces)).describe(),
                  str(statistics.n_high(spaces[0][1].within))]
                 for s, spaces in evidence.final.items()]
    steps = training_steps(evidence)
    union = f"union of masks ({evidence.masks})"
    dynamics_rows = [[f"{e:g}", "" if np.isnan(row["Δ since previous"]) else f"{row['Δ since previous']:.2f}",
                      f"{100 * row[union]:.1f}%"] for e, row in steps.iterrows()]
    paper_means = evidence.claim(2)[0][1].paper
    sections.append(_section("Size and dynamics", _table(size_rows, [
        "size", "BLiMP accuracy", "within-phenomenon (mean; range over seeds)", f"phenomena ≥ {HIGH_WITHIN} (seed 0)"])
        + f"<p><small>the paper: {html.escape(paper_means)}</small></p>"
        + f"<p><small>over training ({evidence.dynamics_size} model, epochs {steps.index[0]:g}–{steps.index[-1]:g})"
          "</small></p>"
        + _table(dynamics_rows, ["epoch", "Δ since previous (1 − r)", union])))
    verdict_rows = [[f"{v.claim.split(' (')[0]} [{scope}]", v.verdict.value]
                    for scope, v in zip(evidence.scopes, evidence.verdicts)]
    sections.append(_section("The paper's claims, held against our run", _table(verdict_rows, ["claim [scope]", "here"])))
    share = 100 * h.mask_share_mean
    accuracy = [spaces[0][1].headline.eval1_accuracy for spaces in evidence.final.values()]
    sections.append(_section("The critique", "<ul>"
                             f"<li>At the paper's threshold FTGD updates {share:.1f}% of the {rq1_size} model's "
                             f"parameters, not {PAPER_SHARE}: a fixed threshold selects a share that depends on "
                             "the gradient scale.</li>"
                             f"<li>Our models have {min(evidence.parameters_m.values()):.1f}–"
                             f"{max(evidence.parameters_m.values()):.1f}M parameters against the paper's 27–203M, "
                             f"and score {min(accuracy):.1%}–{max(accuracy):.1%} on BLiMP's test pairs "
                             "(chance: 50%).</li>"
                             "<li>Transfer shows what FTGD <em>can change</em>; whether that is what the model "
                             "<em>knows</em> is the open question.</li></ul>"
                             "<p><small>Book: <code>taskspace book</code> · these slides: "
                             "<code>taskspace slides</code></small></p>"))
    return sections


def build_slides(preset: str = "cpu", out: Path | None = None, work_dir: str = "runs",
                 results_dir: str = "results") -> Path:
    """Write the deck (``index.html``) and its vendored reveal.js into ``out``; return the index."""
    config = notebook_config(preset, work_dir=work_dir, results_dir=results_dir)
    plots.use_static_rendering()
    sections = slide_sections(config, replicated_claims(*book_plan(config)))
    out = Path(out) if out else REPO_ROOT / "_build" / "slides" / preset
    (out / "reveal").mkdir(parents=True, exist_ok=True)
    for asset in ("reveal.js", "reveal.css", "reset.css", "simple.css", "LICENSE"):
        shutil.copy2(ASSETS / asset, out / "reveal" / asset)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Task spaces of language models, re-run ({html.escape(preset)})</title>
<link rel="stylesheet" href="reveal/reset.css">
<link rel="stylesheet" href="reveal/reveal.css">
<link rel="stylesheet" href="reveal/simple.css">
<style>.reveal table {{ font-size: 0.55em; }} .reveal svg {{ max-height: 60vh; width: auto; }}
.reveal ul, .reveal ol {{ font-size: 0.8em; }}</style>
</head>
<body>
<div class="reveal"><div class="slides">
{chr(10).join(sections)}
</div></div>
<script src="reveal/reveal.js"></script>
<script>Reveal.initialize({{hash: true, slideNumber: true}});</script>
</body>
</html>
"""
    index = out / "index.html"
    atomic_write_text(index, page)
    index.chmod(0o644)  # a deck is meant to be served or shared, unlike the private temp file it was
    return index
