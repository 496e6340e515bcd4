"""The HTML charts in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright), offline.

Each page is opened from a file with the network blocked and the browser
offline: no request may leave the page, no console error may be logged, the
chart must draw (marks in the SVG, a screenshot that is not blank) and show
the parties' and issues' labels. Hostile text in the store must stay text: a
script in a term would set ``window.__pwned``; it must stay unset, also after
its tooltip is shown.

Skipped when Chromium is missing, unless ``NEGOTIATION_REQUIRE_BROWSER=1``
(CI sets it), which makes a missing browser a failure. Playwright never
downloads a browser here.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from negotiation import Negotiations
from negotiation.charts import negotiation_chart, stoppages_chart, write
from tests.charts.shapes import png_size_and_pixels

CHROMIUM = os.environ.get("NEGOTIATION_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> str | None:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _missing()
    if why is not None:
        if os.environ.get("NEGOTIATION_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NEGOTIATION_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """A page opened offline, with every request and console message recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-rendered=yes]", timeout=20_000)

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            route.abort()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    visits: list[Visit] = []

    def open_(path: Path) -> Visit:
        visits.append(Visit(browser, path))
        return visits[-1]

    yield open_
    for v in visits:
        v.close()


def _check_page(v: Visit, marks_at_least: int = 6) -> str:
    assert v.requests == [v.url], "only the page itself was loaded"
    assert v.errors == []
    marks = v.page.locator("#vis svg .role-mark path")
    assert marks.count() >= marks_at_least
    width, height, pixels = png_size_and_pixels(v.page.screenshot(full_page=True))
    assert width > 800
    assert height > 200
    assert len(pixels) > 20, "the screenshot is not blank"
    return str(v.page.locator("#vis svg").text_content())


def test_wga_chart_draws_offline(hollywood: Negotiations, tmp_path: Path, visit: Any) -> None:
    path = write(negotiation_chart(hollywood, "wga-amptp-2023"), tmp_path / "wga.html")
    v = visit(path)
    text = _check_page(v)
    for label in ("Writers Guild of America", "Alliance of Motion Picture", "wga", "amptp", "wages (percent)"):
        assert label in text
    assert "strike by wga: 148 days" in text
    assert "day 102" in text
    # A tooltip names the event's id, date, party and terms.
    v.page.locator("#vis svg .mark-symbol.role-mark path").nth(0).hover(force=True)
    tooltip = v.page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=5_000)
    shown = str(tooltip.text_content())
    assert "wga-001" in shown
    assert "2023-03-20" in shown
    assert "negotiation opened" in shown


def test_stoppages_chart_draws_offline(hollywood: Negotiations, tmp_path: Path, visit: Any) -> None:
    spec = stoppages_chart(hollywood, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))
    v = visit(write(spec, tmp_path / "stoppages.html"))
    text = _check_page(v, marks_at_least=2)
    assert "wga vs amptp: 148 days" in text
    assert "sag-aftra vs amptp: 118 days" in text


def test_hostile_text_never_runs(shapes: Negotiations, tmp_path: Path, visit: Any) -> None:
    v = visit(write(negotiation_chart(shapes, "hostile-2023"), tmp_path / "hostile.html"))
    text = _check_page(v)
    assert "<script>window.__pwned = 1</script>" in text
    assert "\\x1b[31mRED" in text
    points = v.page.locator("#vis svg .mark-symbol.role-mark path")
    assert points.count() >= 5
    for i in range(points.count()):
        points.nth(i).hover(force=True)
        assert v.page.evaluate("window.__pwned === undefined")
    tooltip = v.page.locator("#vg-tooltip-element")
    assert tooltip.locator("script, img, b, svg").count() == 0
    assert v.page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert v.page.evaluate("window.__pwned === undefined")
    assert v.errors == []
