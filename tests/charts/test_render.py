"""Rendered charts: SVG parses as XML with the labels, PNG decodes at the SVG's size, HTML holds no markup of ours."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from negotiation import Negotiations
from negotiation.charts import (
    ChartFormatError,
    ChartsUnavailableError,
    format_of,
    negotiation_chart,
    render,
    stoppages_chart,
    write,
)
from tests.charts.shapes import ALL_SHAPES, HOSTILE, MARKUP, png_size_and_pixels

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed XML
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def _size(svg: bytes) -> tuple[int, int]:
    root = ET.fromstring(svg)  # noqa: S314
    return int(float(root.attrib["width"])), int(float(root.attrib["height"]))


@pytest.fixture(scope="module")
def wga_spec(hollywood: Negotiations) -> dict[str, object]:
    return negotiation_chart(hollywood, "wga-amptp-2023")


def test_wga_svg_holds_the_labels(wga_spec: dict[str, object]) -> None:
    texts = _texts(render(wga_spec, "svg"))
    assert "2023 WGA-AMPTP Minimum Basic Agreement negotiation" in texts
    assert "strike by wga: 148 days" in texts
    assert "day 102" in texts
    assert "wages (percent)" in texts
    assert "contract expires" in texts
    assert "accepted" in texts  # the WGA took the 5% offer on Sept. 24 (spec 1.1)
    for label in ("6", "4", "5", "wga", "amptp", "talks", "proposals", "statements", "agreement and votes"):
        assert label in texts
    assert any("Writers Guild of America (union)" in t for t in texts)
    assert any("Alliance of Motion Picture and Television Producers (employer)" in t for t in texts)


def test_png_decodes_at_the_size_of_the_svg(wga_spec: dict[str, object]) -> None:
    width, height = _size(render(wga_spec, "svg"))
    png_width, png_height, pixels = png_size_and_pixels(render(wga_spec, "png"))
    assert (png_width, png_height) == (width, height)
    assert len(pixels) > 20  # drawn, not blank
    double = png_size_and_pixels(render(wga_spec, "png", scale=2))
    assert double[:2] == (2 * width, 2 * height)


def test_stoppages_svg(hollywood: Negotiations) -> None:
    spec = stoppages_chart(hollywood, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))
    texts = _texts(render(spec, "svg"))
    assert "Strikes and lockouts" in texts
    assert "wga vs amptp: 148 days" in texts
    assert "sag-aftra vs amptp: 118 days" in texts
    assert "2023 WGA-AMPTP Minimum Basic Agreement negotiation" in texts


def test_stoppages_svg_of_a_range_without_any(hollywood: Negotiations) -> None:
    spec = stoppages_chart(hollywood, start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    assert "2020-01-01 to 2020-12-31: no strike or lockout" in _texts(render(spec, "svg"))


@pytest.mark.parametrize("shape", sorted(ALL_SHAPES))
def test_every_held_back_shape_renders(shapes: Negotiations, shape: str) -> None:
    negotiation = ALL_SHAPES[shape]().negotiation
    spec = negotiation_chart(shapes, negotiation)
    svg = render(spec, "svg")
    texts = _texts(svg)
    assert "talks" in texts
    assert len(svg) < 1_000_000
    if shape == "no-numbers":
        assert any("no issue with numbers from both sides" in t for t in texts)
    if shape == "lockout":
        assert "lockout by nhl: 118 days" in texts
    if shape == "two-unions":
        # Too long to fit in its bar at this scale: the bar's description (tooltip, aria-label) has it.
        assert "stoppage: strike by local-11, teamsters: 28 days" in svg.decode()
        assert "wages (USD/hour)" in texts


def test_untrusted_text_is_text_in_svg(shapes: Negotiations) -> None:
    svg = render(negotiation_chart(shapes, "hostile-2023"), "svg")
    root = ET.fromstring(svg)  # noqa: S314 - terminal escapes would make it invalid XML
    tags = {node.tag.removeprefix(SVG) for node in root.iter()}
    assert not tags & {"script", "img", "b", "foreignObject", "iframe"}
    texts = _texts(svg)
    assert any(MARKUP in t for t in texts)  # the title, as text
    assert b"\x1b" not in svg
    assert b"\\x1b[31mRED" in svg
    assert not [(node.tag, name) for node in root.iter() for name in node.attrib if name.lower().startswith("on")]
    assert b"<script" not in svg


def test_untrusted_text_is_data_in_html(shapes: Negotiations) -> None:
    page = render(negotiation_chart(shapes, "hostile-2023"), "html").decode()
    # Two script elements: the bundle and ours; nothing from the store opens or closes one.
    assert len(re.findall(r"<script", page, flags=re.IGNORECASE)) == 2
    assert len(re.findall(r"</script", page, flags=re.IGNORECASE)) == 2
    assert HOSTILE not in page
    assert "\\u003cscript\\u003ewindow.__pwned = 1\\u003c/script\\u003e" in page
    assert "\x1b" not in page


def test_html_fetches_nothing(wga_spec: dict[str, object]) -> None:
    page = render(wga_spec, "html").decode()
    head = page.split("<script>", 1)[0]
    assert "default-src 'none'" in head
    assert "connect-src 'none'" in head
    markup = re.sub(r"<script>.*?</script>", "<script></script>", page, flags=re.DOTALL)
    assert markup.count("<script></script>") == 2
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=""", markup, flags=re.IGNORECASE)
    assert "actions: false" in page


def test_write_chooses_the_format_by_suffix(wga_spec: dict[str, object], tmp_path: Path) -> None:
    for name, start in (("c.svg", b"<svg"), ("c.png", b"\x89PNG"), ("c.html", b"<!DOCTYPE html>"), ("c.HTM", b"<!")):
        path = write(wga_spec, tmp_path / name)
        assert path.read_bytes().startswith(start)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.HTM", "c.html", "c.png", "c.svg"]  # no partial left


@pytest.mark.parametrize("name", ["chart.pdf", "chart", "chart.svg.gz"])
def test_unknown_suffix_is_refused(name: str) -> None:
    with pytest.raises(ChartFormatError, match=r"\.html, \.svg or \.png"):
        format_of(name)


def test_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch, hollywood: Negotiations) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "vl_convert" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ChartsUnavailableError) as caught:
        negotiation_chart(hollywood, "wga-amptp-2023")
    assert str(caught.value) == (
        "charts need the 'charts' extra (vl-convert-python is not installed): pip install 'negotiation-log[charts]'"
    )


def test_importing_the_package_does_not_import_altair() -> None:
    import subprocess
    import sys

    code = "import sys, negotiation.charts; print('altair' in sys.modules, 'vl_convert' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_vega_bundle_is_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import vl_convert

    from negotiation.charts import output

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls: list[int] = []
    real = vl_convert.javascript_bundle

    def counted() -> str:
        calls.append(1)
        return real()  # type: ignore[call-arg, no-any-return]

    monkeypatch.setattr(vl_convert, "javascript_bundle", counted)
    first = output.vega_bundle()
    [cached] = (tmp_path / "negotiation-log").iterdir()
    assert output.vega_bundle() == first
    assert calls == [1]
    assert "vegaEmbed" in first
    # A file cut short (a crash while writing it) is built again, not inlined.
    cached.write_text(first[:1000], encoding="utf-8")
    assert output.vega_bundle() == first
    assert calls == [1, 1]


def test_an_unwritable_cache_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from negotiation.charts import output

    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert "vegaEmbed" in output.vega_bundle()
    assert blocker.read_text(encoding="utf-8") == "not a directory"
