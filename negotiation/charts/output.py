r"""Render a Vega-Lite specification to SVG, PNG or one self-contained HTML page, offline.

vl-convert renders SVG and PNG in-process (no browser, no network). The HTML
page is written here rather than by vl-convert's own template, which pastes the
specification raw into a ``<script>``: a ``</script>`` in any term of the store
would end that script. Here the specification is JSON with ``<``, ``>``, ``&``
and the JavaScript line separators as ``\u`` escapes, the Vega bundle is
inlined, the page's Content-Security-Policy lets nothing be fetched, and
vega-embed's action links (to the online editor) are off.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
from pathlib import Path
from typing import Any, Final

from projections.errors import InvalidQueryError

__all__ = ["FORMATS", "ChartFormatError", "format_of", "render", "to_html", "vega_bundle", "write"]

FORMATS: Final = ("html", "svg", "png")
"""The formats, by the output file's suffix."""

VEGA_LITE_VERSION: Final = "6.4"
"""The Vega-Lite version of the specifications altair builds (altair 6) that vl-convert renders."""

_CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
"""Nothing leaves the page: no fetch, no image, no font from anywhere but the page itself."""

_JS_UNSAFE: Final = re.compile("[<>&\u2028\u2029]")


class ChartFormatError(InvalidQueryError):
    """The output file's suffix names no format the charts can be written in."""

    def __init__(self, name: str) -> None:
        super().__init__(f"cannot tell the chart's format from {name!r}: name a file ending in .html, .svg or .png")
        self.name = name


def format_of(path: str | Path) -> str:
    """``html``, ``svg`` or ``png``, from the file's suffix; ``ChartFormatError`` otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix == "htm":
        suffix = "html"
    if suffix not in FORMATS:
        raise ChartFormatError(str(path))
    return suffix


def _script_json(spec: dict[str, Any]) -> str:
    """The specification as JSON that no HTML parser can read as markup (same JSON, same JavaScript)."""
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return _JS_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_BUNDLE_END: Final = "\n// negotiation-log: complete\n"
"""Written after a cached bundle: a file without it (cut short) is built again."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "negotiation-log"


def vega_bundle() -> str:
    """The JavaScript of vega, vega-lite and vega-embed as one script, setting ``vegaEmbed`` on ``window``.

    vl-convert builds it in about a second of CPU; the result depends only on
    vl-convert's version, so it is kept in ``$XDG_CACHE_HOME/negotiation-log/``
    (default ``~/.cache``) and read from there next time. A cache that cannot
    be read or written is not used; one cut short is built again.
    """
    import vl_convert

    version = re.sub(r"[^0-9A-Za-z.]", "_", str(getattr(vl_convert, "__version__", "unknown")))
    cached = _cache_dir() / f"vega-bundle-{version}.js"
    try:
        text = cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if text.endswith(_BUNDLE_END):
        return text[: -len(_BUNDLE_END)]
    # The stubs ask for a snippet; without one the bundle sets vegaEmbed, vega and vegaLite on window.
    bundle: str = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(bundle + _BUNDLE_END, encoding="utf-8")
        partial.replace(cached)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return bundle


def to_html(spec: dict[str, Any], *, title: str = "Chart") -> str:
    """One HTML page holding the chart, the Vega libraries and nothing from elsewhere."""
    # Inside a script element only "</script" ends it; in JavaScript "<\/" means the same as "</".
    bundle = re.sub(r"</(?=script)", r"<\\/", vega_bundle(), flags=re.IGNORECASE)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{margin:16px;font-family:sans-serif;background:#fff}"
        "#vis .vega-bindings{display:none}</style>\n"
        f"<script>{bundle}</script>\n</head>\n<body>\n"
        '<div id="vis" role="figure"></div>\n'
        "<script>\n"
        f"const spec = {_script_json(spec)};\n"
        'vegaEmbed("#vis", spec, {renderer: "svg", actions: false, tooltip: {theme: "light"}})'
        '.then(function () { document.body.setAttribute("data-rendered", "yes"); })'
        ".catch(function (error) { console.error(error); });\n"
        "</script>\n</body>\n</html>\n"
    )


def render(spec: dict[str, Any], fmt: str, *, title: str = "Chart", scale: float = 1.0) -> bytes:
    """The chart as the bytes of an ``html``, ``svg`` or ``png`` file."""
    import vl_convert

    if fmt == "html":
        return to_html(spec, title=title).encode("utf-8")
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION).encode("utf-8")
    if fmt == "png":
        return bytes(vl_convert.vegalite_to_png(spec, vl_version=VEGA_LITE_VERSION, scale=scale))
    raise ChartFormatError(f"chart.{fmt}")


def write(spec: dict[str, Any], path: str | Path, *, title: str = "Chart", scale: float = 1.0) -> Path:
    """Write the chart to ``path`` in the format its suffix names; the file is replaced whole or not at all."""
    target = Path(path)
    content = render(spec, format_of(target), title=title, scale=scale)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(content)
    partial.replace(target)
    return target
