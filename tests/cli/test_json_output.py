r"""``--json`` text: rendered by orjson, character for character what ``json.dumps(indent=2)`` gave.

The contract of the JSON answers on the command line is the text of
``json.dumps(document, ensure_ascii=False, indent=2)`` with every character a
terminal could act on (C0 and C1 controls, DEL, lone surrogates, line
separators, bidi controls) as a ``\u`` escape. ``json_text`` now renders with
orjson (``json`` with ``indent`` is pure Python); these tests hold it to the old
rendering, kept here as the reference.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation.cli import output
from negotiation.cli.output import json_text
from projections.catalog import CatalogEntry

_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def reference(document: object) -> str:
    """The rendering before orjson, as it was."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=False, indent=2)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def raw_controls(text: str) -> list[str]:
    """Every character of ``text`` a terminal could act on (a newline of the layout aside)."""
    return [c for c in text if c != "\n" and (ord(c) < 0x20 or _UNSAFE.fullmatch(c))]


# Text that reaches the answers: anything, with the characters that need care made likely.
CONTROLS = "\x00\x01\x07\x08\t\n\x0c\r\x1b\x1f\x7f\x80\x85\x9b\x9f"
OTHERS = '"\\/\xa0é\u061c\u200e\u200f\u2028\u2029\u202e\u2066\u2069😀'
TRICKY = CONTROLS + OTHERS
texts = st.text(alphabet=st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=12)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-5, 8.13351507162973e-05, 1e-7, -2.5e-9, 1e-10, 1e16, 1.5e16, 1e22, 0.1, -0.0, 5e-324]),
    st.builds(lambda m, e: m * 10.0**e, st.integers(-999, 999), st.integers(-12, 20)),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), floats, texts)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(document=documents)
def test_json_text_is_the_old_rendering(document: Any) -> None:
    """Any document renders as before: key order, non-ASCII kept, floats as Python spells them, controls escaped."""
    assert json_text(document) == reference(document)


float_free = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(document=float_free)
def test_a_document_without_floats_renders_alike_unsearched(document: Any) -> None:
    """``floats=False``: the same text, for a document that holds no float (``list``'s entries)."""
    assert json_text(document, floats=False) == reference(document)


def test_floats_false_skips_the_search_for_orjsons_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search is what ``floats=False`` saves; by default it runs, and spells a float as Python does."""
    looked: list[bytes] = []
    monkeypatch.setattr(output, "_may_hold_float", lambda rendered: looked.append(rendered) or True)
    assert json_text({"day": 3}, floats=False) == '{\n  "day": 3\n}'
    assert looked == []
    assert json_text({"x": 1e-05}) == '{\n  "x": 1e-05\n}'
    assert len(looked) == 1


def _leaf_types(kind: Any, seen: set[Any]) -> set[Any]:
    """Every type a value of ``kind`` may hold, through attrs classes, unions and containers."""
    if kind in seen:
        return set()
    seen.add(kind)
    if attrs.has(kind):
        hints = typing.get_type_hints(kind)
        return set().union(*(_leaf_types(hints[f.name], seen) for f in attrs.fields(kind)))
    args = typing.get_args(kind)
    if args and typing.get_origin(kind) is not typing.Literal:
        return set().union(*(_leaf_types(a, seen) for a in args if a is not Ellipsis))
    return {kind}


def test_list_entries_hold_no_float() -> None:
    """``list`` is written with ``floats=False``: nothing in a catalog entry can be a float."""
    leaves = _leaf_types(CatalogEntry, set())
    assert float not in leaves
    assert {str, int, dt.datetime} <= leaves  # the walk reached the fields


def test_a_document_with_non_ascii_and_control_characters_is_unchanged() -> None:
    """The characters that need care, in keys, values and lists, next to numbers orjson spells otherwise."""
    document = {
        "négociation": "grève \x1b[31mRED\x07 \x9b2J — “quoted” \u202eevil\u2066 line\u2028sep\x7f\x85 😀",
        "tab\tkey": ["\x00", "\n\r\t\x08\x0c", '\\/"', "", 1e-7, 0.00001, 1e16, 2**64 - 1, -(2**63)],
        "nested": {"empty": {}, "none": [], "share": 0.5, "1e-7 in text": "1e-7", "n": None, "ok": True},
        "ids": ["e-17", "2023-05-02", "0.0000"],
    }
    shown = json_text(document)
    assert shown == reference(document)
    assert json.loads(shown) == document  # the same JSON
    assert raw_controls(shown) == []
    assert "\\u001b[31mRED\\u0007" in shown
    assert "\\u009b2J" in shown
    assert "\\u202eevil\\u2066" in shown
    assert "grève" in shown  # non-ASCII stays as it is
    assert '"share": 0.5' in shown
    assert "\n    1e-07,\n    1e-05,\n    1e+16,\n" in shown


def test_what_orjson_cannot_render_is_rendered_as_before() -> None:
    """Integers beyond 64 bits, keys that are not strings and lone surrogates: the old rendering, escaped."""
    for document in ({"big": 2**64}, {1: "a", "b": [1.5e-6]}, {"lone": "a\ud800b"}, [[[[]]]] * 3):
        shown = json_text(document)
        assert shown == reference(document)
        assert raw_controls(shown) == []
    assert "\\ud800" in json_text({"lone": "a\ud800b"})


def test_deep_documents_are_rendered_too() -> None:
    """orjson refuses nesting deeper than 254: the old rendering takes over (no answer is that deep)."""
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    assert json_text(deep) == reference(deep)


def test_answers_are_not_rendered_by_json_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    """``json.dumps(indent=2)`` is pure Python: a 10,000-negotiation ``list`` spent most of its time there."""

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("rendered by json.dumps")

    monkeypatch.setattr(output.json, "dumps", refuse)
    entry = {"negotiation": "n-1", "title": "Grève — “2023”", "parties": [{"id": "wga", "role": "union"}], "day": 3}
    assert json_text({"negotiations": [entry] * 3}).startswith('{\n  "negotiations": [\n    {\n      "negotiation"')


# --- streamed items (``list``) -------------------------------------------------------------------


ENTRIES = st.lists(
    st.dictionaries(st.text(CONTROLS + OTHERS + "abc", max_size=6), st.one_of(st.text(max_size=8), st.integers()))
)


@settings(max_examples=150)
@given(entries=ENTRIES, batch=st.integers(min_value=1, max_value=4))
def test_streamed_items_print_the_text_of_the_whole_document(entries: list[dict[str, Any]], batch: int) -> None:
    """``Items`` written a batch at a time are ``json_text`` of ``{key: [items]}``, empty list included."""
    with pytest.MonkeyPatch.context() as m:
        written: list[str] = []
        m.setattr(output.sys, "stdout", type("Out", (), {"write": written.append, "flush": lambda self: None})())
        m.setattr(output, "_BATCH", batch)  # several batches, and a last one that is not full
        output.print_json(output.Items("negotiations", iter(entries)))
    assert "".join(written) == json_text({"negotiations": entries}) + "\n"


def test_streamed_items_are_consumed_a_batch_at_a_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch is written before the next item is asked for: a generator is never turned into a list."""
    monkeypatch.setattr(output, "_BATCH", 2)
    seen: list[int] = []

    def items() -> Any:
        for i in range(5):
            if i in (2, 4):  # a batch of two was asked for before: it is already written out
                assert f'"n": {i - 1}' in capsys.readouterr().out
            seen.append(i)
            yield {"n": i}

    output.print_json(output.Items("negotiations", items()))
    assert seen == [0, 1, 2, 3, 4]
    assert '"n": 4' in capsys.readouterr().out
