"""Data-quality checks (catalogue section 9): flag, don't drop."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import (
    FOLDS,
    OPENING_EVENT,
    Assessment,
    ChildProtectionPlan,
    Episode,
    InitialConference,
    PeriodOfCare,
    Referral,
    Section47,
    StrategyDiscussion,
)
from kpi.domain.kpis.base import UNLISTED, open_per_child


class Check(StrEnum):
    ICPC_ON_WEEKEND = "icpc_on_weekend"
    CP_PLAN_START_NOT_ICPC_DAY = "cp_plan_start_not_icpc_day"
    END_BEFORE_START = "end_before_start"
    OVERLAPPING_CP_PLANS = "overlapping_cp_plans"
    ASSESSMENT_WITHOUT_REFERRAL = "assessment_without_referral"
    SECTION_47_OPEN_WITHOUT_ICPC = "section_47_open_15wd_without_icpc"
    EPISODE_NEVER_OPENED = "episode_never_opened"
    DATE_ONLY_HOUR_CLOCK = "date_only_hour_clock"
    # a cohort member whose start event is missing: counted, not met (catalogue section 10.2)
    ICPC_WITHOUT_STRATEGY_DISCUSSION = "icpc_without_strategy_discussion"
    ICPC_WITHOUT_SECTION_47 = "icpc_without_section_47"
    STRATEGY_DISCUSSION_WITHOUT_REFERRAL = "strategy_discussion_without_referral"
    # a value a KPI needs and the case system did not send
    BIRTH_MONTH_NOT_RECORDED = "birth_month_not_recorded"
    # a team the council file does not list: counted, and shown as team="unlisted" on /metrics
    UNLISTED_TEAM = "unlisted_team"
    # a child whose episodes a rule could not evaluate: left out of that rule's figures
    NOT_EVALUATED = "not_evaluated"


@dataclass(frozen=True, slots=True)
class Issue:
    check: Check
    team: str
    child_id: str
    episode_id: str
    detail: str


Finding = tuple[Check, Episode, str]


def _icpcs_on_weekends(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for icpc in book.all("initial_conference", InitialConference):
        if icpc.held_on.weekday() >= 5:
            yield Check.ICPC_ON_WEEKEND, icpc, f"ICPC held on {icpc.held_on:%A %d %b %Y}"


def _plans_not_started_on_their_icpc_day(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for plan in book.all("cp_plan", ChildProtectionPlan):
        made_by = book.get(
            "initial_conference", plan.child_id, plan.initial_conference_id, InitialConference
        )
        if made_by and plan.started_on is not None and plan.started_on != made_by.held_on:
            detail = f"plan started {plan.started_on}, ICPC held {made_by.held_on}"
            yield Check.CP_PLAN_START_NOT_ICPC_DAY, plan, detail


def _overlapping_plans(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    plans_by_child: dict[str, list[ChildProtectionPlan]] = {}
    for plan in book.all("cp_plan", ChildProtectionPlan):
        plans_by_child.setdefault(plan.child_id, []).append(plan)
    for plans in plans_by_child.values():
        dated = sorted((p for p in plans if p.started_on), key=lambda p: p.started_on or ctx.as_at)
        for earlier, later in itertools.pairwise(dated):
            assert later.started_on is not None
            if earlier.ended_on is None or earlier.ended_on > later.started_on:
                yield Check.OVERLAPPING_CP_PLANS, later, f"overlaps plan {earlier.episode_id}"


def _episodes_never_opened(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for kind, opening in OPENING_EVENT.items():
        for episode in book.all(kind, Episode):
            if not episode.opened:
                yield Check.EPISODE_NEVER_OPENED, episode, f"{kind} has events but no {opening}"


def _ends_before_starts(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for kind in FOLDS:
        for episode in book.all(kind, Episode):
            start, end = episode.opened_on, episode.closed_on
            if start is not None and end is not None and end < start:
                yield Check.END_BEFORE_START, episode, f"ends {end}, starts {start}"


def _assessments_without_referrals(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for assessment in book.all("assessment", Assessment):
        referral = book.get("referral", assessment.child_id, assessment.referral_id, Referral)
        if referral is None or not referral.opened:
            named = assessment.referral_id
            detail = f"referral {named} not received" if named else "no referral named"
            yield Check.ASSESSMENT_WITHOUT_REFERRAL, assessment, detail


def _icpcs_without_their_start(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for icpc in book.all("initial_conference", InitialConference):
        s47 = book.get("section_47", icpc.child_id, icpc.section_47_id, Section47)
        if s47 is None or s47.started_on is None:
            detail = f"section 47 {icpc.section_47_id} not started"
            yield Check.ICPC_WITHOUT_SECTION_47, icpc, detail
        if icpc.source_dataset is not None:
            continue  # no return or SSD table records strategy discussions
        strategy_id = icpc.strategy_discussion_id or (s47.strategy_discussion_id if s47 else None)
        if book.get("strategy_discussion", icpc.child_id, strategy_id, StrategyDiscussion) is None:
            named = f"strategy discussion {strategy_id} not held"
            detail = named if strategy_id else "no strategy discussion named"
            yield Check.ICPC_WITHOUT_STRATEGY_DISCUSSION, icpc, detail


def _strategy_discussions_without_referrals(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for sd in book.all("strategy_discussion", StrategyDiscussion):
        referral = book.get("referral", sd.child_id, sd.referral_id, Referral)
        if referral is None or referral.received_at is None:
            detail = f"referral {sd.referral_id} not received"
            yield Check.STRATEGY_DISCUSSION_WITHOUT_REFERRAL, sd, detail


def _looked_after_without_birth_month(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    looked_after = open_per_child(book.all("period_of_care", PeriodOfCare), ctx.as_at)
    for child_id, poc in looked_after.items():
        if book.birth_month(child_id, ctx.as_at) is None:
            detail = (
                "looked after with no month of birth: CLA-HEALTH holds them to 6 months,"
                " PLACEMENT-LONGTERM leaves them out"
            )
            yield Check.BIRTH_MONTH_NOT_RECORDED, poc, detail


def _section_47s_open_without_icpc(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    held_for = {
        (c.child_id, c.section_47_id)
        for c in book.all("initial_conference", InitialConference)
        if c.held_on <= ctx.as_at
    }
    for s47 in book.all("section_47", Section47):
        if s47.started_on is None or (s47.child_id, s47.episode_id) in held_for:
            continue
        if s47.outcome == "icpc_not_required" and (s47.completed_on or s47.started_on) <= ctx.as_at:
            continue
        if ctx.calendar.working_days_between(s47.started_on, ctx.as_at) > 15:
            detail = f"started {s47.started_on}, no ICPC and no 'not required' outcome"
            yield Check.SECTION_47_OPEN_WITHOUT_ICPC, s47, detail


def _hour_clocks_from_dates(book: CaseBook, ctx: RuleContext) -> Iterator[Finding]:
    for kind in ("contact", "referral", "strategy_discussion"):
        for episode in book.all(kind, Episode):
            # a return's or the SSD's referral starts no hour clock (they record no decisions)
            if getattr(episode, "date_only", False) and episode.source_dataset is None:
                yield Check.DATE_ONLY_HOUR_CLOCK, episode, "an hour clock timed from a date only"


CHECKS = (
    _icpcs_on_weekends,
    _plans_not_started_on_their_icpc_day,
    _overlapping_plans,
    _episodes_never_opened,
    _ends_before_starts,
    _assessments_without_referrals,
    _icpcs_without_their_start,
    _strategy_discussions_without_referrals,
    _looked_after_without_birth_month,
    _section_47s_open_without_icpc,
    _hour_clocks_from_dates,
)


def data_quality_issues(book: CaseBook, ctx: RuleContext) -> Iterator[Issue]:
    """Every check's findings, each for the team that held the episode at the as-at date
    (section 10.1). An episode none of whose events had happened by then is not yet on the
    record: the figures as at a date depend only on what happened by it, which is what lets the
    facts keeper leave a date alone when every change falls after it."""
    for check in CHECKS:
        for kind, episode, detail in check(book, ctx):
            if not happened_by(episode, ctx.as_at):
                continue
            team = episode.team_at(ctx.as_at)
            yield Issue(kind, team, episode.child_id, episode.episode_id, detail)


def happened_by(episode: Episode, as_at: date) -> bool:
    """Whether any of the episode's events happened on or before ``as_at``."""
    return not episode.teams or episode.teams[0].on <= as_at


def teams_named(episodes: Iterable[Episode], as_at: date) -> Counter[str]:
    """Each team named on the episodes' events that happened by ``as_at``: how many episodes
    name it."""
    return Counter(
        team
        for e in episodes
        for team in ({t.team for t in e.teams if t.on <= as_at} if e.teams else {e.team})
    )


def unlisted_teams(named: Mapping[str, int], listed: frozenset[str]) -> Iterator[Issue]:
    """Each team named on an event but not in the council file, once, with how many episodes
    name it (``named``, from ``teams_named``), when the council file lists its teams."""
    if not listed:
        return
    for team, episodes in sorted(named.items()):
        if episodes > 0 and team not in listed:
            yield Issue(
                Check.UNLISTED_TEAM,
                UNLISTED,
                "",
                "",
                f"team {team!r} is not in the council file ({episodes} episodes name it)",
            )
