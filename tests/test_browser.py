"""The built `ci` book in a real browser: headless Chromium, driven by Playwright.

Every chapter renders inside the theme without script errors; every chart is drawn from the book's
own Vega bundle, offline (no request leaves the page); hovering a mark shows its tooltip; the
heatmaps' phenomenon menu fades the cells outside the chosen phenomenon.

`.ci/run` installs Debian's `chromium`; Playwright drives it (it never downloads a browser).
Outside CI the test is skipped when no Chromium is found; in CI (CI=true) a missing browser is a
failure, not a skip.
"""

import os
import re
import shutil
from collections import Counter

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHAPTERS = ["notebooks/rq1_cross_task_knowledge", "notebooks/rq2_model_size", "notebooks/rq3_learning_dynamics",
            "notebooks/claims", "notebooks/critique_generality_scale"]
WITH_CHARTS = [*CHAPTERS, "book/handout", "book/reproducing"]
PAGES = [*WITH_CHARTS, "book/explorer", "book/intro", "book/methods", "book/references"]
# flags of a closed-network machine: without them Chromium keeps trying to reach Google's services
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
CHART = "div.taskspace-chart[id]"
# data marks only (not axes or legends): heatmap cells and bars, points of line charts, text labels
HOVERABLE = ", ".join(f"g.role-mark.mark-{kind} {tag}" for kind, tag in (("rect", "path"), ("symbol", "path"), ("text", "text")))

if not CHROMIUM and os.environ.get("CI") != "true":
    pytest.skip("no chromium on this machine (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "chromium is not installed (.ci/run installs it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Visit:
    """One page, opened in a fresh tab that records every request and every script error."""

    def __init__(self, browser, path):
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.requests, self.errors = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text)
                     if message.type == "error" and "theme mode" not in message.text else None)
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        self.charts = self.page.locator(CHART)
        n = self.charts.count()
        # every chart replaced its empty div with Vega's SVG (or wrote an error into it)
        self.page.wait_for_function(
            f"Array.from(document.querySelectorAll('{CHART}')).every(d => d.querySelector('svg.marks') || d.textContent)",
            timeout=60_000)
        self.n = n

    def external_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(("file:", "data:", "blob:", "about:"))]

    def hover_tooltip(self, chart) -> str:
        """Hover the chart's marks until one shows a tooltip; its text ("" when none did)."""
        marks = chart.locator(HOVERABLE)
        for k in range(min(marks.count(), 12)):
            self.page.mouse.move(0, 0)
            marks.nth(k).hover(force=True)
            tooltip = self.page.locator("#vg-tooltip-element.visible")
            try:
                tooltip.wait_for(timeout=1_500)
            except Exception:  # noqa: BLE001 - a mark without tooltip (an outline); try the next
                continue
            return tooltip.inner_text()
        return ""


@pytest.mark.parametrize("page", PAGES)
def test_chapter_renders_its_charts_offline_and_without_script_errors(ci_book, browser, page):
    visit = Visit(browser, ci_book.parent / f"{page}.html")
    try:
        assert visit.page.locator("article.bd-article h1").count() >= 1  # the page, inside the book theme
        if page in WITH_CHARTS:
            assert visit.n >= 1, "a chapter without charts"
        for k in range(visit.n):
            chart = visit.charts.nth(k)
            label = chart.get_attribute("aria-label")
            assert chart.locator("svg.marks").count() == 1, f"chart {k} ({label}) not drawn: {chart.inner_text()[:300]}"
            assert chart.locator("svg.marks path").count() >= 3, f"chart {k} ({label}) drew no marks"
        assert not visit.errors, visit.errors
        assert not visit.external_requests(), visit.external_requests()
        # at 1280 px, a laptop's page width, every chart fits the reading column: nothing is cut off
        # behind a scroll bar (the charts' widths are fixed, so only the column moves)
        visit.page.set_viewport_size({"width": 1280, "height": 1000})
        column = visit.page.evaluate("document.querySelector('article.bd-article').getBoundingClientRect().right")
        for k in range(visit.n):
            box = visit.charts.nth(k).bounding_box()
            assert box["x"] + box["width"] <= column + 2, \
                f"chart {k} ({visit.charts.nth(k).get_attribute('aria-label')}) is {box['width']:.0f} px wide, " \
                f"past the reading column's right edge by {box['x'] + box['width'] - column:.0f} px"
        # ... and so does every table (the book's stylesheet sets them small, with wrapping heads)
        wide = visit.page.evaluate(
            "column => Array.from(document.querySelectorAll('article.bd-article div.cell_output table'))"
            ".filter(t => t.getBoundingClientRect().right > column + 2)"
            ".map(t => `${Math.round(t.getBoundingClientRect().width)} px: ${t.rows[0].innerText.slice(0, 80)}`)",
            column)
        assert not wide, f"tables past the reading column: {wide}"
    finally:
        visit.page.close()


@pytest.mark.parametrize("page", WITH_CHARTS)
def test_every_chart_shows_a_tooltip_on_hover(ci_book, browser, page):
    visit = Visit(browser, ci_book.parent / f"{page}.html")
    try:
        for k in range(visit.n):
            chart = visit.charts.nth(k)
            text = visit.hover_tooltip(chart)
            assert text.strip(), f"no tooltip on chart {k} ({chart.get_attribute('aria-label')})"
        assert not visit.external_requests(), visit.external_requests()
    finally:
        visit.page.close()


def test_heatmap_tooltip_names_the_pair_and_the_menu_highlights_a_phenomenon(ci_book, browser):
    visit = Visit(browser, ci_book.parent / "notebooks/rq1_cross_task_knowledge.html")
    try:
        transfer = visit.page.locator(f"{CHART}[aria-label^='Transfer']").first
        text = visit.hover_tooltip(transfer)
        for field in ("source (fine-tuned)", "target (evaluated)", "95% CI low", "95% CI high"):
            assert field in text, text

        cells = transfer.locator("g.mark-rect").first

        def opacities() -> Counter:
            return Counter(cells.evaluate(
                "g => Array.from(g.querySelectorAll('path')).map(p => p.getAttribute('opacity') || '1')"))

        assert set(opacities()) == {"1"}, "cells faded before anything was chosen"
        menu = transfer.locator("select")
        options = menu.locator("option").all_inner_texts()
        assert options[0] == "all" and len(options) > 2
        menu.select_option(options[1])
        visit.page.wait_for_function(
            "g => g.querySelector('path[opacity=\"0.15\"]')", arg=cells.element_handle(), timeout=5_000)
        faded = opacities()
        assert 0 < faded["0.15"] < sum(faded.values()), faded  # one phenomenon's rows and columns stay
        menu.select_option("all")
        visit.page.wait_for_function(
            "g => !g.querySelector('path[opacity=\"0.15\"]')", arg=cells.element_handle(), timeout=5_000)
    finally:
        visit.page.close()


def test_screenshots_of_the_research_questions(ci_book, browser):
    """Screenshots for a human to look at (kept under the build folder), and a non-blank check."""
    shots = ci_book.parent.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    for page in CHAPTERS[:4]:
        visit = Visit(browser, ci_book.parent / f"{page}.html")
        try:
            png = shots / f"{page.split('/')[-1]}.png"
            visit.page.screenshot(path=str(png), full_page=True)
            assert png.stat().st_size > 50_000
        finally:
            visit.page.close()


def test_explorer_switches_spaces_and_lists_transfers_offline(ci_book, browser):
    visit = Visit(browser, ci_book.parent / "book/explorer.html")
    page = visit.page
    try:
        explorer = page.locator("#taskspace-explorer")
        page.wait_for_selector("#taskspace-explorer-heatmap-chart svg.marks", timeout=60_000)
        fields = explorer.locator("select[data-field]")
        names = [fields.nth(k).get_attribute("data-field") for k in range(fields.count())]
        assert names == ["benchmark", "size", "checkpoint", "method", "masks", "replicate", "metric", "paradigm"]
        data = page.evaluate("window.taskspaceExplorerData")  # the book build moved it into a script file
        assert len(data["spaces"]) >= 2

        def shown() -> tuple[str, str]:
            return (explorer.locator(".taskspace-explorer-source").inner_text(),
                    explorer.locator("table[data-table=out]").inner_text())

        source, out = shown()
        assert data["spaces"][0]["name"] in source or any(s["name"] in source for s in data["spaces"])
        strongest = min(8, len(data["paradigms"]) - 1)  # the chosen paradigm itself is left out
        assert len(explorer.locator("table[data-table=out] tr").all()) == 1 + strongest
        within = explorer.locator("table[data-table=within]").inner_text()
        assert "phenomenon" in within and len(explorer.locator("table[data-table=within] tr").all()) > 2

        # another size (or checkpoint) shows another committed space, and its heatmap is redrawn
        for field in ("size", "checkpoint", "method"):
            options = explorer.locator(f"select[data-field={field}] option").all_inner_texts()
            if len(options) > 1:
                explorer.locator(f"select[data-field={field}]").select_option(options[-1])
                break
        else:
            pytest.fail("the explorer offers only one space")
        page.wait_for_function(f"document.querySelector('.taskspace-explorer-source').textContent !== {source!r}")
        page.wait_for_selector("#taskspace-explorer-heatmap-chart svg.marks")
        assert shown()[0] != source

        # another paradigm lists its own transfers; the heatmap cells still have tooltips
        paradigms = explorer.locator("select[data-field=paradigm] option").all_inner_texts()
        explorer.locator("select[data-field=paradigm]").select_option(index=len(paradigms) - 1)
        assert paradigms[-1].split(" · ")[-1] in explorer.locator("table[data-table=in] caption").inner_text()
        assert "source" in visit.hover_tooltip(page.locator("#taskspace-explorer-heatmap-chart"))

        # another benchmark (ci plans Zorro's own space and a cross-benchmark one) brings its own
        # paradigms and its own heatmap; the page opens on BLiMP
        offered = explorer.locator("select[data-field=benchmark] option").all_inner_texts()
        assert offered[0] == "BLiMP" and sorted(offered) == ["BLiMP", "BLiMP + CLAMS English", "BLiMP + Zorro", "Zorro"]
        source = shown()[0]
        explorer.locator("select[data-field=benchmark]").select_option("Zorro")
        page.wait_for_function(f"document.querySelector('.taskspace-explorer-source').textContent !== {source!r}")
        page.wait_for_selector("#taskspace-explorer-heatmap-chart svg.marks")
        zorro = explorer.locator("select[data-field=paradigm] option").all_inner_texts()
        assert zorro and all(" · zorro:" in option for option in zorro)
        assert zorro[0].split(" · ")[-1] in explorer.locator("table[data-table=out] caption").inner_text()
        assert not visit.errors, visit.errors
        assert not visit.external_requests(), visit.external_requests()
    finally:
        page.close()


def _printed_pages(pdf: bytes) -> int:
    """Pages of a PDF that Chromium wrote (one ``/Type /Page`` object each)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_handout_prints_on_one_a4_sheet_without_menus_or_cut_off_charts(ci_book, browser):
    """The handout on paper, as Chromium prints it: A4 with 1 cm margins (718 px of column at 96
    dpi), both sides of one sheet at most, no phenomenon menu, and every chart inside the page."""
    visit = Visit(browser, ci_book.parent / "book/handout.html")
    page = visit.page
    try:
        page.set_viewport_size({"width": 718, "height": 1000})
        page.emulate_media(media="print")
        shown_menus = page.evaluate("Array.from(document.querySelectorAll('select, .vega-embed details'))"
                                    ".filter(e => e.offsetParent !== null).length")
        assert shown_menus == 0, f"{shown_menus} menus would print"
        rights = page.evaluate("Array.from(document.querySelectorAll('div.taskspace-chart svg.marks'))"
                               ".map(svg => svg.getBoundingClientRect().right)")
        assert rights and max(rights) <= 718 + 1, f"a chart ends at {max(rights):.0f} px, past the printed page (718 px)"
        pdf = page.pdf(format="A4", margin={side: "1cm" for side in ("top", "bottom", "left", "right")})
        assert 1 <= _printed_pages(pdf) <= 2, f"the handout prints on {_printed_pages(pdf)} A4 pages"
    finally:
        page.close()
