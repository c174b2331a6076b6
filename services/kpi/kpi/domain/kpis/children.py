"""Children open to the council: social worker changes and rates per 10,000 (catalogue
section 3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from casetime.events import local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import (
    Allocations,
    ChildInNeedPlan,
    ChildProtectionPlan,
    Episode,
    Referral,
    Section47,
)
from kpi.domain.kpis.base import RETURNS, Kpi, Measure, Outcome, Polarity, open_at
from kpi.domain.kpis.looked_after import looked_after_at
from kpi.domain.periods import add_months


def children_in_need_at(book: CaseBook, as_at: date) -> dict[str, tuple[str, str]]:
    """Children with an open episode of need (referral not closed), or on a CIN or CP plan, or
    looked after: child id -> (team, episode id) of their most recent open episode, the team as
    at the as-at date."""
    latest: dict[str, tuple[date, str, Episode]] = {}

    def consider(episode: Episode, started: date | None, ended: date | None) -> None:
        if not open_at(started, ended, as_at):
            return
        assert started is not None
        key = (started, episode.episode_id, episode)
        held = latest.get(episode.child_id)
        if held is None or key[:2] > held[:2]:
            latest[episode.child_id] = key

    for r in book.all("referral", Referral):
        consider(r, local_date(r.received_at) if r.received_at else None, r.closed)
    for plan in (*book.all("cin_plan", ChildInNeedPlan), *book.all("cp_plan", ChildProtectionPlan)):
        consider(plan, plan.started_on, plan.ended_on)
    for poc in looked_after_at(book, as_at).values():
        consider(poc, poc.started_on, poc.ended_on)
    return {
        child_id: (episode.team_at(as_at), episode.episode_id)
        for child_id, (_, _, episode) in latest.items()
    }


def children_with_3_or_more_social_workers(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """SW-CHANGES: children open at the as-at date; 3 or more distinct allocated workers in the
    12 months before (the day exactly 12 months before included), counting the worker who held
    the case when the 12 months began. The child counts for the team of their latest allocation
    on or before the as-at date, else of their most recent open episode (section 10.1)."""
    window_start = add_months(ctx.as_at, -12)
    for child_id, (team, episode_id) in children_in_need_at(book, ctx.as_at).items():
        allocations = sorted(
            (
                a
                for case in book.of_child("allocation", child_id, Allocations)
                for a in case.allocations
                if a.on <= ctx.as_at
            ),
            key=lambda a: a.on,
        )
        before = [a for a in allocations if a.on < window_start]
        during = [a for a in allocations if window_start <= a.on]
        workers = {a.worker_id for a in ([before[-1]] if before else []) + during if a.worker_id}
        if allocations:
            team = allocations[-1].team
        yield Outcome(team, ctx.as_at, len(workers) >= 3, child_id, episode_id)


def _children_in_need(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    for child_id, (team, episode_id) in children_in_need_at(book, ctx.as_at).items():
        yield Outcome(team, ctx.as_at, True, child_id, episode_id)


def _section_47s_started(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    for s47 in book.all("section_47", Section47):
        if s47.started_on is not None:
            team = s47.team_of("section_47_started")
            yield Outcome(team, s47.started_on, True, s47.child_id, s47.episode_id)


def _children_on_plans(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    seen: set[str] = set()
    for plan in book.all("cp_plan", ChildProtectionPlan):
        if open_at(plan.started_on, plan.ended_on, ctx.as_at) and plan.child_id not in seen:
            seen.add(plan.child_id)
            team = plan.team_at(ctx.as_at)
            yield Outcome(team, ctx.as_at, True, plan.child_id, plan.episode_id)


def _children_looked_after(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        yield Outcome(poc.team_at(ctx.as_at), ctx.as_at, True, child_id, poc.episode_id)


SW_CHANGES = Kpi(
    "SW-CHANGES",
    "Children with 3 or more social workers in 12 months",
    Polarity.LOWER_IS_BETTER,
    children_with_3_or_more_social_workers,
    point_in_time=True,
    unrecorded_in=RETURNS,
)


def _rate(kpi_id: str, title: str, rule: object, point_in_time: bool) -> Kpi:
    return Kpi(
        kpi_id,
        title,
        Polarity.CONTEXT,
        rule,  # type: ignore[arg-type]
        measure=Measure.RATE_PER_10000,
        point_in_time=point_in_time,
        unit="per_10000_children",
    )


RATE_CIN = _rate("RATE-CIN", "Children in need per 10,000 children", _children_in_need, True)
RATE_S47 = _rate(
    "RATE-S47", "Section 47 enquiries started per 10,000 children", _section_47s_started, False
)
RATE_CP = _rate("RATE-CP", "Children on CP plans per 10,000 children", _children_on_plans, True)
RATE_CLA = _rate(
    "RATE-CLA", "Children looked after per 10,000 children", _children_looked_after, True
)

CHILDREN_KPIS = (SW_CHANGES, RATE_CIN, RATE_S47, RATE_CP, RATE_CLA)
