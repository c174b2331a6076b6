"""Data-quality checks (catalogue section 9): flag, don't drop."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
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


def data_quality_issues(book: CaseBook, ctx: RuleContext) -> Iterator[Issue]:
    def _issue(check: Check, episode: Episode, detail: str) -> Issue:
        # the team that held the episode at the as-at date (section 10.1)
        team = episode.team_at(ctx.as_at)
        return Issue(check, team, episode.child_id, episode.episode_id, detail)

    for icpc in book.all("initial_conference", InitialConference):
        if icpc.held_on.weekday() >= 5:
            yield _issue(Check.ICPC_ON_WEEKEND, icpc, f"ICPC held on {icpc.held_on:%A %d %b %Y}")

    plans_by_child: dict[str, list[ChildProtectionPlan]] = {}
    for plan in book.all("cp_plan", ChildProtectionPlan):
        plans_by_child.setdefault(plan.child_id, []).append(plan)
        made_by = book.get(
            "initial_conference", plan.child_id, plan.initial_conference_id, InitialConference
        )
        if made_by and plan.started_on is not None and plan.started_on != made_by.held_on:
            yield _issue(
                Check.CP_PLAN_START_NOT_ICPC_DAY,
                plan,
                f"plan started {plan.started_on}, ICPC held {made_by.held_on}",
            )
    for plans in plans_by_child.values():
        dated = sorted((p for p in plans if p.started_on), key=lambda p: p.started_on or ctx.as_at)
        for earlier, later in itertools.pairwise(dated):
            assert later.started_on is not None
            if earlier.ended_on is None or earlier.ended_on > later.started_on:
                yield _issue(
                    Check.OVERLAPPING_CP_PLANS, later, f"overlaps plan {earlier.episode_id}"
                )

    for kind in OPENING_EVENT:
        for episode in book.all(kind, Episode):
            if not episode.opened:
                yield _issue(
                    Check.EPISODE_NEVER_OPENED,
                    episode,
                    f"{kind} has events but no {OPENING_EVENT[kind]}",
                )
    for kind in FOLDS:
        for episode in book.all(kind, Episode):
            start, end = episode.opened_on, episode.closed_on
            if start is not None and end is not None and end < start:
                yield _issue(Check.END_BEFORE_START, episode, f"ends {end}, starts {start}")

    for assessment in book.all("assessment", Assessment):
        referral = book.get("referral", assessment.child_id, assessment.referral_id, Referral)
        if referral is None or not referral.opened:
            yield _issue(
                Check.ASSESSMENT_WITHOUT_REFERRAL,
                assessment,
                f"referral {assessment.referral_id} not received"
                if assessment.referral_id
                else "no referral named",
            )

    for icpc in book.all("initial_conference", InitialConference):
        s47 = book.get("section_47", icpc.child_id, icpc.section_47_id, Section47)
        if s47 is None or s47.started_on is None:
            yield _issue(
                Check.ICPC_WITHOUT_SECTION_47, icpc, f"section 47 {icpc.section_47_id} not started"
            )
        strategy_id = icpc.strategy_discussion_id or (s47.strategy_discussion_id if s47 else None)
        if book.get("strategy_discussion", icpc.child_id, strategy_id, StrategyDiscussion) is None:
            yield _issue(
                Check.ICPC_WITHOUT_STRATEGY_DISCUSSION,
                icpc,
                f"strategy discussion {strategy_id} not held"
                if strategy_id
                else "no strategy discussion named",
            )

    for sd in book.all("strategy_discussion", StrategyDiscussion):
        referral = book.get("referral", sd.child_id, sd.referral_id, Referral)
        if referral is None or referral.received_at is None:
            yield _issue(
                Check.STRATEGY_DISCUSSION_WITHOUT_REFERRAL,
                sd,
                f"referral {sd.referral_id} not received",
            )

    for child_id, poc in open_per_child(
        book.all("period_of_care", PeriodOfCare), ctx.as_at
    ).items():
        if book.birth_month(child_id, ctx.as_at) is None:
            yield _issue(
                Check.BIRTH_MONTH_NOT_RECORDED,
                poc,
                "looked after with no month of birth: CLA-HEALTH holds them to 6 months,"
                " PLACEMENT-LONGTERM leaves them out",
            )

    held_for = {
        (c.child_id, c.section_47_id) for c in book.all("initial_conference", InitialConference)
    }
    for s47 in book.all("section_47", Section47):
        if s47.started_on is None or (s47.child_id, s47.episode_id) in held_for:
            continue
        if s47.outcome == "icpc_not_required":
            continue
        if ctx.calendar.working_days_between(s47.started_on, ctx.as_at) > 15:
            yield _issue(
                Check.SECTION_47_OPEN_WITHOUT_ICPC,
                s47,
                f"started {s47.started_on}, no ICPC and no 'not required' outcome",
            )

    for kind in ("contact", "referral", "strategy_discussion"):
        for episode in book.all(kind, Episode):
            if getattr(episode, "date_only", False):
                yield _issue(
                    Check.DATE_ONLY_HOUR_CLOCK, episode, "an hour clock timed from a date only"
                )


def unlisted_teams(book: CaseBook, listed: frozenset[str]) -> Iterator[Issue]:
    """Each team named on an event but not in the council file, once, with how many episodes
    name it (when the council file lists its teams)."""
    if not listed:
        return
    named: dict[str, int] = {}
    for episode in book.episodes():
        for team in {t.team for t in episode.teams} | {episode.team}:
            if team not in listed:
                named[team] = named.get(team, 0) + 1
    for team, episodes in sorted(named.items()):
        yield Issue(
            Check.UNLISTED_TEAM,
            UNLISTED,
            "",
            "",
            f"team {team!r} is not in the council file ({episodes} episodes name it)",
        )
