"""The team page: a team manager's open work by urgency, the team's figures rated, and what is at
risk this month (kpi.domain.team_view), as server-rendered HTML with no script.

A browser cannot send a bearer token, so the page also takes the reader token from a cookie set by
signing in with it (HttpOnly, SameSite=Strict). The rules are the API's: any reader token sees
the figures; only a token scoped to the team sees its child-level rows, and each such view is
audited before it is shown.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from casetime.access.credentials import Credential
from casetime.errors import RefusedError
from kpi.api.deps import Runtime, Service, audit_read
from kpi.domain.council import Rag
from kpi.domain.evaluation import MONTH_OR_AS_AT, ClockState, Evaluation, OpenClockStatus
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import COUNCIL, Figure, Measure
from kpi.domain.team_view import ClockLine, TeamFigure, at_risk, team_clocks, team_figures

router = APIRouter(include_in_schema=False)

COOKIE = "casetime_reader"
SIGNED_IN_SECONDS = 8 * 3600
STATE_WORDS = {
    ClockState.OVERDUE: "Overdue",
    ClockState.DUE_SOON: "Due soon",
    ClockState.ON_TRACK: "On track",
}


def rag_class(rating: Rag) -> str:
    return rating.name.lower()


def rag_badge(rating: Rag) -> Markup:
    # the word carries the rating; the colour only repeats it (WCAG 1.4.1)
    return Markup('<span class="rag rag-{}">{}</span>').format(rag_class(rating), rating.value)


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def ratio(figure: Figure) -> str:
    if figure.value is None:
        return "no data (nothing counted yet)"
    return f"{percent(figure.value)} ({figure.numerator} of {figure.denominator})"


def in_unit(value: float, measure: Measure, unit: str) -> str:
    if measure is Measure.RATIO:
        return percent(value)
    if measure is Measure.RATE_PER_10000:
        return f"{value:.1f} per 10,000"
    return f"{value:.1f} {unit.replace('_', ' ')}"


def figure_value(row: TeamFigure) -> str:
    value = row.figure.value
    return "no data" if value is None else in_unit(value, row.measure, row.unit)


def target_value(row: TeamFigure) -> str:
    return "none" if row.target is None else in_unit(row.target, row.measure, row.unit)


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def day_of(line: ClockLine) -> str:
    if line.of is None:
        return ""
    if line.day is None:
        return f"{line.of}-hour limit"
    return f"day {line.day} of {line.of} {line.unit}"


def due_text(clock_status: OpenClockStatus) -> str:
    clock = clock_status.clock
    when = long_date(clock.due)
    if clock.due_at is not None:
        when = f"{clock.due_at:%H:%M} on {when}"
    days = clock_status.days_left
    if days > 1:
        return f"{when} (in {days} days)"
    if days == 1:
        return f"{when} (tomorrow)"
    if days == 0:
        return f"{when} (today)"
    return f"{when} ({-days} {'day' if days == -1 else 'days'} ago)"


def team_url(team: str, kpi: str | None = None) -> str:
    url = f"/teams/{quote(team, safe='')}"
    return f"{url}?{urlencode({'kpi': kpi})}" if kpi else url


TEMPLATES = Environment(
    loader=PackageLoader("kpi", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(
    rag_badge=rag_badge,
    rag_class=rag_class,
    ratio=ratio,
    figure_value=figure_value,
    target_value=target_value,
    long_date=long_date,
    month_name=lambda day: f"{day:%B %Y}",
    day_of=day_of,
    due_text=due_text,
    state_word=STATE_WORDS.__getitem__,
)
TEMPLATES.globals["team_url"] = team_url
TEMPLATES.globals["all_of"] = lambda n: (
    "it is" if n == 1 else "both are" if n == 2 else f"all {n} are"
)


def page(
    name: str, code: int = 200, extra: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = TEMPLATES.get_template(name).render(**context)
    # the rows are children's cases: never cached, never framed
    headers = {
        **(extra or {}),
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'",
    }
    return HTMLResponse(html, status_code=code, headers=headers)


async def _page_reader(request: Request, runtime: Service) -> Credential | None:
    """The reader token sent as a bearer token, or else the one signed in with; None if neither
    is one casetime knows."""
    headers: dict[str, str] = dict(request.headers)
    cookie = request.cookies.get(COOKIE)
    if "authorization" not in headers and cookie:
        headers["authorization"] = f"Bearer {cookie}"
    try:
        return await runtime.gate.reader(headers)
    except RefusedError:
        return None


PageReader = Annotated[Credential | None, Depends(_page_reader)]


def message(
    runtime: Runtime,
    code: int,
    heading: str,
    text: str,
    headers: dict[str, str] | None = None,
    reader: Credential | None = None,
) -> Response:
    context = {"council": runtime.config.council, "heading": heading, "text": text}
    return page("message.html", code, headers, reader=reader, **context)


def sign_in(
    runtime: Runtime, next_path: str, error: str | None = None, code: int = 401
) -> Response:
    return page(
        "signin.html",
        code,
        council=runtime.config.council,
        next=next_path,
        error=error,
        reader=None,
    )


async def _evaluation(runtime: Runtime, request: Request) -> Evaluation | Response:
    try:
        return await runtime.evaluation_at(None, request, lists=True)
    except HTTPException as exc:  # 503: no figures yet, or not within the query's budget
        return message(
            runtime, exc.status_code, "Not ready", f"{exc.detail}.", dict(exc.headers or {})
        )


def _teams(runtime: Runtime, evaluation: Evaluation) -> list[str]:
    listed = runtime.config.teams
    seen = {f.team for f in evaluation.figures if f.team != COUNCIL}
    return sorted(listed or seen)


@router.get("/teams", response_class=HTMLResponse)
async def teams(request: Request, runtime: Service, reader: PageReader) -> Response:
    if reader is None:
        return sign_in(runtime, "/teams")
    evaluation = await _evaluation(runtime, request)
    if isinstance(evaluation, Response):
        return evaluation
    overdue = Counter(s.clock.team for s in evaluation.open_clocks if s.state is ClockState.OVERDUE)
    return page(
        "teams.html",
        council=runtime.config.council,
        reader=reader,
        as_at=evaluation.as_at,
        teams=_teams(runtime, evaluation),
        overdue=overdue,
    )


@router.get("/teams/{team}", response_class=HTMLResponse)
async def team_page(
    team: str,
    request: Request,
    runtime: Service,
    reader: PageReader,
    kpi: Annotated[str | None, Query(description="Only this KPI's rows.")] = None,
) -> Response:
    if reader is None:
        return sign_in(runtime, team_url(team, kpi))
    evaluation = await _evaluation(runtime, request)
    if isinstance(evaluation, Response):
        return evaluation
    if team not in _teams(runtime, evaluation) or (kpi is not None and kpi not in KPIS):
        what = f"team {team!r}" if kpi is None or kpi in KPIS else f"KPI {kpi!r}"
        return message(runtime, 404, "Not found", f"There is no {what} here.", reader=reader)
    config = runtime.config
    figures = [f for f in team_figures(evaluation, team, config) if kpi in (None, f.kpi)]
    risks = [r for r in at_risk(evaluation, team, config) if kpi in (None, r.kpi)]
    clocks = breaches = None
    if reader.sees_team(team):
        clocks = [c for c in team_clocks(evaluation, team) if kpi in (None, c.status.clock.kpi)]
        if kpi is not None:
            breaches = [
                b
                for b in evaluation.breaches
                if b.team == team and b.kpi == kpi and b.period in MONTH_OR_AS_AT
            ]
        await audit_read(runtime, reader, request, len(clocks) + len(breaches or []), {team})
    return page(
        "team.html",
        council=config.council,
        reader=reader,
        team=team,
        kpi=kpi,
        as_at=evaluation.as_at,
        figures=figures,
        risks=risks,
        clocks=clocks,
        breaches=breaches,
    )


@router.post("/session")
async def start_session(request: Request, runtime: Service) -> Response:
    """Sign in with a reader token: checked as the API checks it, then kept in a cookie."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    token = form.get("token", [""])[0].strip()
    next_path = form.get("next", ["/teams"])[0]
    if not next_path.startswith("/teams"):
        next_path = "/teams"  # never a redirect off this site
    try:
        await runtime.gate.reader({"authorization": f"Bearer {token}"})
    except RefusedError as exc:
        code = status.HTTP_429_TOO_MANY_REQUESTS if exc.status_code == 429 else 401
        return sign_in(runtime, next_path, f"That token cannot sign in: {exc.reason}.", code)
    response = RedirectResponse(next_path, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SIGNED_IN_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/session/end")
async def end_session() -> Response:
    response = RedirectResponse("/teams", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
