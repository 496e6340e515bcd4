"""Vega-Lite specifications of the charts, built with altair from ``negotiation.charts.data``.

Only data values carry untrusted text: field names, expressions and titles
built here are our own, so nothing from the store is ever read as Vega code.
Dates are ``YYYY-MM-DD`` strings on a UTC time scale: a day is drawn as that
calendar day whatever the time zone of the viewer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from negotiation.charts.data import LANES, NegotiationData, Panel, StoppagesData

__all__ = ["PHASE_COLORS", "WIDTH", "negotiation_spec", "stoppages_spec"]

WIDTH: Final = 860
"""The plotting width in pixels (the picture is a little wider, with its axis labels)."""
LANE_HEIGHT: Final = 26
PANEL_HEIGHT: Final = 150

PHASE_COLORS: Final = {
    "opened": "#f0f0f0",
    "bargaining": "#deebf7",
    "impasse": "#fee391",
    "strike": "#fcbba1",
    "lockout": "#dadaeb",
    "tentative_agreement": "#c7e9c0",
    "ratified": "#74c476",
}
STOPPAGE_COLORS: Final = {"strike": "#b2182b", "lockout": "#54278f"}
_PALETTE: Final = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_NOBODY: Final = "#7f7f7f"


_SHAPES: Final = {"event": "circle", "accepted": "diamond", "rejected": "cross", "withdrawn": "triangle-down"}


def _shape(event_type: str) -> str:
    kind = event_type.rpartition(".")[2]
    return kind if kind in _SHAPES else "event"


MAX_LABELS: Final = 40
"""Above this many moves in a panel, only each party's first and last amount is written out."""


def _first_and_last(steps: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    moves = [s for s in steps if not s["edge"]]
    firsts = {s["party"]: s for s in reversed(moves)}
    lasts = {s["party"]: s for s in moves}
    return [*firsts.values(), *(s for p, s in lasts.items() if s is not firsts[p])]


def _fits(row: dict[str, Any], start: dt.date, end: dt.date) -> bool:
    """Whether a bar's label fits in it (at about 7 pixels a character): smaller bars keep theirs for the tooltip."""
    first = max(dt.date.fromisoformat(row["start"]), start)
    days = (dt.date.fromisoformat(row["end"]) - first).days
    return days * WIDTH / ((end - start).days + 1) >= 7 * len(row["label"]) + 8


def _next(day: dt.date) -> str:
    return (day + dt.timedelta(days=1)).isoformat()


def _ticks(start: dt.date, end: dt.date) -> tuple[dict[str, Any], str]:
    """Calendar ticks for the range: weeks, months or years, and their label format."""
    days = (end - start).days + 1
    if days <= 70:
        return {"interval": "week", "step": 1}, "%b %-d"
    if days <= 800:
        return {"interval": "month", "step": 1}, "%b %-d, %Y" if days <= 120 else "%b %Y"
    return {"interval": "year", "step": 1}, "%Y"


def _x(alt: Any, field: str, start: dt.date, end: dt.date, *, axis: bool = True, title: str | None = None) -> Any:
    ticks, label = _ticks(start, end)
    return alt.X(
        f"{field}:T",
        scale=alt.Scale(type="utc", domain=[start.isoformat(), _next(end)]),
        axis=alt.Axis(format=label, labelFlush=True, title=title, grid=True, tickCount=ticks) if axis else None,
    )


NO_PARTY: Final = "no party"


def _party_scale(alt: Any, parties: tuple[dict[str, Any], ...]) -> Any:
    domain = [p["id"] for p in parties]
    return alt.Scale(
        domain=[*domain, NO_PARTY], range=[*(_PALETTE[i % len(_PALETTE)] for i in range(len(domain))), _NOBODY]
    )


_DATES: Final = ("date", "start", "end")


def _rows(values: Any) -> list[dict[str, Any]]:
    """The rows, each date also as text (``date_text``): Vega reads the date fields as times, tooltips show text."""
    return [{**v, **{f"{k}_text": v[k] for k in _DATES if k in v}} for v in values]


def _timeline(alt: Any, data: NegotiationData) -> Any:
    start, end = data.start, data.end
    height = LANE_HEIGHT * len(LANES)
    lanes = alt.Y(
        "lane:N",
        scale=alt.Scale(domain=list(LANES), paddingInner=0.25),
        axis=alt.Axis(title=None, labelFontSize=11, ticks=False, domain=False),
    )
    phases = (
        alt.Chart(alt.Data(values=_rows(data.phases)))
        .mark_rect(opacity=0.55)
        .encode(
            x=_x(alt, "start", start, end),
            x2="end:T",
            color=alt.Color(
                "phase:N",
                scale=alt.Scale(domain=list(PHASE_COLORS), range=list(PHASE_COLORS.values())),
                legend=alt.Legend(title="phase", orient="right"),
            ),
            tooltip=[
                alt.Tooltip("phase:N"),
                alt.Tooltip("start_text:N", title="from"),
                alt.Tooltip("end_text:N", title="until (before)"),
            ],
        )
    )
    layers = [phases]
    if data.event_counts:
        layers.append(
            alt.Chart(alt.Data(values=_rows(data.event_counts)))
            .mark_rect()
            .encode(
                x=_x(alt, "start", start, end),
                x2="end:T",
                y=lanes,
                color=alt.Color(
                    "count:Q", scale=alt.Scale(scheme="greys"), legend=alt.Legend(title="events", gradientLength=60)
                ),
                tooltip=[
                    alt.Tooltip("lane:N"),
                    alt.Tooltip("start_text:N", title="from"),
                    alt.Tooltip("end_text:N", title="until (before)"),
                    alt.Tooltip("count:Q", title="events"),
                ],
            )
        )
    if data.stoppages:
        stoppage_rows = _rows({**row, "lane": "stoppage"} for row in data.stoppages)
        bars = alt.Chart(alt.Data(values=stoppage_rows)).encode(x=_x(alt, "start", start, end), y=lanes)
        layers.append(
            bars.mark_rect(opacity=0.9).encode(
                x2="end:T",
                color=alt.value(STOPPAGE_COLORS["strike"]),
                tooltip=[
                    alt.Tooltip("label:N", title="stoppage"),
                    alt.Tooltip("start_text:N", title="since"),
                    alt.Tooltip("end_text:N", title="until (before)"),
                ],
            )
        )
        labelled = _rows(r for r in stoppage_rows if _fits(r, start, end))
        if labelled:
            layers.append(
                alt.Chart(alt.Data(values=labelled))
                .mark_text(align="left", baseline="middle", dx=4, color="white", fontWeight="bold", fontSize=11)
                .encode(x=_x(alt, "start", start, end), y=lanes, text="label:N")
            )
    if data.day_labels:
        marks = alt.Chart(alt.Data(values=_rows(data.day_labels))).encode(x=_x(alt, "date", start, end), y=lanes)
        layers.append(marks.mark_tick(color="white", thickness=2, size=LANE_HEIGHT * 0.75))
        layers.append(
            marks.mark_text(align="left", baseline="middle", dx=4, color="white", fontSize=11).encode(text="label:N")
        )
    if data.events:
        layers.append(
            alt.Chart(
                alt.Data(
                    values=_rows(
                        {**row, "shape": _shape(row["type"]), "by": row["by"] or NO_PARTY} for row in data.events
                    )
                )
            )
            .mark_point(filled=True, size=80, opacity=0.85, stroke="white", strokeWidth=0.5)
            .encode(
                x=_x(alt, "date", start, end),
                y=lanes,
                color=alt.Color("by:N", scale=_party_scale(alt, data.parties), legend=alt.Legend(title="party")),
                shape=alt.Shape(
                    "shape:N",
                    scale=alt.Scale(domain=list(_SHAPES), range=list(_SHAPES.values())),
                    legend=None,
                ),
                tooltip=[
                    alt.Tooltip("date_text:N", title="date"),
                    alt.Tooltip("id:N"),
                    alt.Tooltip("type:N"),
                    alt.Tooltip("by:N", title="party"),
                    alt.Tooltip("summary:N", title="what"),
                    alt.Tooltip("day:N", title="stoppage"),
                ],
            )
        )
    if data.expiry:
        expiry = alt.Chart(alt.Data(values=_rows(data.expiry))).encode(x=_x(alt, "date", start, end))
        layers.append(expiry.mark_rule(strokeDash=[4, 3], color="black", strokeWidth=1.5))
        layers.append(
            expiry.mark_text(align="right", baseline="bottom", dx=-3, y=height, fontSize=10, color="black").encode(
                text="label:N"
            )
        )
    return alt.layer(*layers).resolve_scale(color="independent").properties(width=WIDTH, height=height)


def _panel(alt: Any, panel: Panel, data: NegotiationData) -> Any:
    start, end = data.start, data.end
    y_title = panel.unit
    steps = alt.Chart(alt.Data(values=_rows(panel.steps)))
    color = alt.Color("party:N", scale=_party_scale(alt, data.parties), legend=None)
    layers = []
    if panel.gap:
        layers.append(
            alt.Chart(alt.Data(values=_rows(panel.gap)))
            .mark_area(interpolate="step-after", color="#bdbdbd", opacity=0.45)
            .encode(
                x=_x(alt, "date", start, end),
                y=alt.Y("union:Q", title=y_title, scale=alt.Scale(zero=False, nice=True, padding=14)),
                y2="employer:Q",
            )
        )
    layers.append(
        steps.mark_line(interpolate="step-after", strokeWidth=2.5).encode(
            x=_x(alt, "date", start, end),
            y=alt.Y("amount:Q", title=y_title, scale=alt.Scale(zero=False, nice=True, padding=14)),
            color=color,
            detail="party:N",
        )
    )
    moves = steps.transform_filter("!datum.edge")
    count = sum(1 for step in panel.steps if not step["edge"])
    layers.append(
        moves.mark_point(filled=True, size=50 if count <= MAX_LABELS else 12).encode(
            x=_x(alt, "date", start, end),
            y="amount:Q",
            color=color,
            tooltip=[
                alt.Tooltip("date_text:N", title="date"),
                alt.Tooltip("party:N"),
                alt.Tooltip("label:N", title=f"amount ({y_title})"),
                alt.Tooltip("event:N"),
            ],
        )
    )
    # Every amount is written next to its point while they can be read; beyond that, each party's first and last.
    labelled = moves if count <= MAX_LABELS else alt.Chart(alt.Data(values=_rows(_first_and_last(panel.steps))))
    layers.append(
        labelled.mark_text(align="left", baseline="bottom", dx=3, dy=-3, fontSize=11, fontWeight="bold").encode(
            x=_x(alt, "date", start, end), y="amount:Q", text="label:N", color=color
        )
    )
    if panel.acceptances:
        accepted = alt.Chart(alt.Data(values=_rows(panel.acceptances))).encode(
            x=_x(alt, "date", start, end), y="amount:Q"
        )
        layers.append(
            accepted.mark_point(shape="diamond", size=180, filled=True, color="black").encode(
                tooltip=[
                    alt.Tooltip("date_text:N", title="date"),
                    alt.Tooltip("party:N", title="accepted by"),
                    alt.Tooltip("event:N", title="proposal"),
                    alt.Tooltip("accepted:N", title="acceptance"),
                ]
            )
        )
        layers.append(
            accepted.mark_text(align="right", baseline="top", dx=-6, dy=4, fontSize=10).encode(
                text=alt.value("accepted")
            )
        )
    subtitle = "shaded: the gap between union and employer" if panel.gap else ""
    if panel.thinned:
        subtitle += " (thinned: the last move per party and period)"
    return alt.layer(*layers).properties(
        width=WIDTH,
        height=PANEL_HEIGHT,
        title=alt.TitleParams(text=f"{panel.issue} ({panel.unit})", subtitle=subtitle, anchor="start", fontSize=13),
    )


def _parties_lines(data: NegotiationData) -> list[str]:
    named = [f"{p['id']}: {p['name']} ({p['role']})" for p in data.parties]
    line = "   ".join(named)
    return [line] if len(line) <= 120 else named[:12]


def negotiation_spec(data: NegotiationData) -> dict[str, Any]:
    """The negotiation chart: the timeline, then one panel per issue with numbers."""
    import altair

    alt: Any = altair  # altair's constructors are untyped

    subtitle = [*_parties_lines(data), f"{data.start.isoformat()} to {data.end.isoformat()}"]
    if data.known_at:
        subtitle[-1] += f", as known at {data.known_at}"
    subtitle += list(data.notes)
    if not data.panels:
        subtitle.append("no issue with numbers from both sides")
    chart = alt.vconcat(_timeline(alt, data), *(_panel(alt, p, data) for p in data.panels), spacing=18).properties(
        title=alt.TitleParams(text=data.title, subtitle=subtitle, anchor="start", fontSize=16, subtitleFontSize=11),
        background="white",
        padding=12,
    )
    # The layers were checked against the schema as they were built; the data values need no check.
    return _finish(chart.to_dict(validate=False))


def stoppages_spec(data: StoppagesData) -> dict[str, Any]:
    """The stoppages chart: one row per negotiation, a bar per strike or lockout."""
    import altair

    alt: Any = altair  # altair's constructors are untyped

    start, end = data.start, data.end
    subtitle = f"{start.isoformat()} to {end.isoformat()}" + (f", as known at {data.known_at}" if data.known_at else "")
    rows = _rows(data.bars)
    if not rows:
        rows = [{"row": "", "start": start.isoformat(), "end": start.isoformat(), "kind": "strike", "label": ""}]
        subtitle += ": no strike or lockout"
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=_x(alt, "start", start, end),
        y=alt.Y(
            "row:N",
            sort=alt.SortField("since"),
            axis=alt.Axis(title=None, labelLimit=380, labelFontSize=11),
            scale=alt.Scale(paddingInner=0.3),
        ),
    )
    bars = base.mark_rect().encode(
        x2="end:T",
        color=alt.Color(
            "kind:N",
            scale=alt.Scale(domain=list(STOPPAGE_COLORS), range=list(STOPPAGE_COLORS.values())),
            legend=alt.Legend(title=None, orient="top"),
        ),
        tooltip=[
            alt.Tooltip("title:N", title="negotiation"),
            alt.Tooltip("kind:N"),
            alt.Tooltip("parties:N", title="by"),
            alt.Tooltip("against:N"),
            alt.Tooltip("span:N", title="when"),
            alt.Tooltip("days:Q"),
        ],
    )
    labels = base.mark_text(align="left", baseline="middle", dx=4, color="white", fontWeight="bold").encode(
        text="label:N"
    )
    height = max(60, 34 * len({r["row"] for r in rows}))
    chart = (
        alt.layer(bars, labels)
        .properties(width=WIDTH, height=height)
        .properties(
            title=alt.TitleParams(text="Strikes and lockouts", subtitle=subtitle, anchor="start", fontSize=16),
            background="white",
            padding=12,
        )
    )
    # The layers were checked against the schema as they were built; the data values need no check.
    return _finish(chart.to_dict(validate=False))


def _finish(spec: dict[str, Any]) -> dict[str, Any]:
    spec.setdefault("config", {}).update({"font": "DejaVu Sans, sans-serif", "view": {"stroke": None}})
    return spec
