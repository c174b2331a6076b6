"""Child protection: conferences, plans, core groups and visits (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from casetime.events import local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import (
    ChildProtectionPlan,
    CoreGroup,
    InitialConference,
    ReviewConference,
    Section47,
    StrategyDiscussion,
    Visit,
)
from kpi.domain.kpis.base import (
    EVERY_DATASET,
    RETURNS,
    Kpi,
    OpenClock,
    Outcome,
    Polarity,
    Standard,
    any_per_child,
    open_at,
    open_per_child,
)
from kpi.domain.periods import add_months

ICPC_WORKING_DAYS = 15
CORE_GROUP_WORKING_DAYS = 10
FIRST_REVIEW_MONTHS = 3
LATER_REVIEW_MONTHS = 6


def _strategy_for(book: CaseBook, icpc: InitialConference) -> StrategyDiscussion | None:
    s47 = book.get("section_47", icpc.child_id, icpc.section_47_id, Section47)
    strategy_id = icpc.strategy_discussion_id or (s47.strategy_discussion_id if s47 else None)
    return book.get("strategy_discussion", icpc.child_id, strategy_id, StrategyDiscussion)


def _conference_within_15_working_days(
    icpc: InitialConference, start: date | None, ctx: RuleContext
) -> Outcome:
    """An ICPC against 15 working days from ``start``, for the team that held it; one whose
    start is missing stays in the cohort, not met (catalogue section 10.2)."""
    team = icpc.team_of("initial_cp_conference_held")
    if start is None:
        return Outcome(team, icpc.held_on, False, icpc.child_id, icpc.episode_id)
    return Outcome(
        team,
        icpc.held_on,
        ctx.calendar.working_days_between(start, icpc.held_on) <= ICPC_WORKING_DAYS,
        icpc.child_id,
        icpc.episode_id,
        due=ctx.calendar.add_working_days(start, ICPC_WORKING_DAYS),
    )


def initial_conferences_within_15_working_days(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ICPC-15WD: ICPCs in period; ``wd_between(strategy discussion, ICPC) <= 15``, from the
    strategy discussion that initiated the section 47."""
    for icpc in book.all("initial_conference", InitialConference):
        strategy = _strategy_for(book, icpc)
        held = local_date(strategy.held_at) if strategy is not None else None
        yield _conference_within_15_working_days(icpc, held, ctx)


def initial_conferences_within_15_working_days_of_section_47(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ICPC-15WD-DFE: the DfE basis, from the section 47 start."""
    for icpc in book.all("initial_conference", InitialConference):
        s47 = book.get("section_47", icpc.child_id, icpc.section_47_id, Section47)
        start = s47.started_on if s47 is not None else None
        yield _conference_within_15_working_days(icpc, start, ctx)


def _section_47s_awaiting_conference(book: CaseBook, ctx: RuleContext) -> Iterator[Section47]:
    """Section 47s started by the as-at date with no ICPC held by then and no 'ICPC not
    required' outcome."""
    held_for = {
        (c.child_id, c.section_47_id)
        for c in book.all("initial_conference", InitialConference)
        if c.held_on <= ctx.as_at
    }
    for s47 in book.all("section_47", Section47):
        if s47.started_on is None or s47.started_on > ctx.as_at:
            continue
        if (s47.child_id, s47.episode_id) in held_for:
            continue
        if (
            s47.outcome == "icpc_not_required"
            and s47.completed_on
            and s47.completed_on <= ctx.as_at
        ):
            continue
        yield s47


def open_initial_conference_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """ICPC-15WD's clock runs from the strategy discussion (section 10.8); from the section 47
    start when no strategy discussion is linked."""
    for s47 in _section_47s_awaiting_conference(book, ctx):
        assert s47.started_on is not None
        strategy = book.get(
            "strategy_discussion", s47.child_id, s47.strategy_discussion_id, StrategyDiscussion
        )
        start = local_date(strategy.held_at) if strategy else s47.started_on
        due = ctx.calendar.add_working_days(start, ICPC_WORKING_DAYS)
        yield OpenClock("ICPC-15WD", s47.team_at(ctx.as_at), s47.child_id, s47.episode_id, due)


def open_initial_conference_clocks_from_section_47(
    book: CaseBook, ctx: RuleContext
) -> Iterator[OpenClock]:
    """ICPC-15WD-DFE's clock runs from the section 47 start."""
    for s47 in _section_47s_awaiting_conference(book, ctx):
        assert s47.started_on is not None
        due = ctx.calendar.add_working_days(s47.started_on, ICPC_WORKING_DAYS)
        team = s47.team_at(ctx.as_at)
        yield OpenClock("ICPC-15WD-DFE", team, s47.child_id, s47.episode_id, due)


def _plan_start(book: CaseBook, plan: ChildProtectionPlan) -> date | None:
    """The ICPC that made the plan, or the plan's own start when the ICPC is not known."""
    icpc = book.get(
        "initial_conference", plan.child_id, plan.initial_conference_id, InitialConference
    )
    return icpc.held_on if icpc is not None else plan.started_on


def _core_groups(book: CaseBook, plan: ChildProtectionPlan, as_at: date) -> list[CoreGroup]:
    """The plan's core groups held by the as-at date, earliest first."""
    return sorted(
        (
            cg
            for cg in book.of_child("core_group", plan.child_id, CoreGroup)
            if cg.plan_id == plan.episode_id and cg.held_on <= as_at
        ),
        key=lambda cg: (cg.held_on, cg.episode_id),
    )


def first_core_groups_within_10_working_days(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CORE-10WD: CP plans started in period whose first core group is due; held <= 10 working
    days after the ICPC. Section 10.3: counted once the due date is reached; a plan due today
    with no core group yet is not counted yet; a plan that ended before its due date with no
    core group is not counted. Held: the core group's team; not held: the plan's."""
    for plan in book.all("cp_plan", ChildProtectionPlan):
        start = _plan_start(book, plan)
        if plan.started_on is None or start is None:
            continue
        due = ctx.calendar.add_working_days(start, CORE_GROUP_WORKING_DAYS)
        held = _core_groups(book, plan, ctx.as_at)
        if due > ctx.as_at or (due == ctx.as_at and not held):
            continue
        ended_before_due = plan.ended_on is not None and plan.ended_on < due
        if ended_before_due and not held:
            continue
        team = held[0].team_of("core_group_held") if held else plan.team_at(ctx.as_at)
        met = bool(held) and held[0].held_on <= due
        yield Outcome(team, plan.started_on, met, plan.child_id, plan.episode_id, due=due)


def _reviews(book: CaseBook, plan: ChildProtectionPlan, as_at: date) -> list[ReviewConference]:
    """The plan's review conferences held by the as-at date, earliest first."""
    return sorted(
        (
            r
            for r in book.of_child("review_conference", plan.child_id, ReviewConference)
            if r.plan_id == plan.episode_id and r.held_on <= as_at
        ),
        key=lambda r: (r.held_on, r.episode_id),
    )


def _review_dues(book: CaseBook, plan: ChildProtectionPlan, as_at: date) -> Iterator[Outcome]:
    """Each review conference due while the plan was open: the first 3 months after the ICPC,
    then 6 months after the previous review. A review not yet held is late once due passes."""
    start = _plan_start(book, plan)
    if start is None:
        return
    due = add_months(start, FIRST_REVIEW_MONTHS)
    for review in _reviews(book, plan, as_at):
        team = review.team_of("review_cp_conference_held")
        yield Outcome(team, due, review.held_on <= due, plan.child_id, plan.episode_id, due=due)
        due = add_months(review.held_on, LATER_REVIEW_MONTHS)
    # a review due today is not late yet; one due before today and not held is
    if due < as_at and open_at(plan.started_on, plan.ended_on, due):
        team = plan.team_at(as_at)
        yield Outcome(team, due, False, plan.child_id, plan.episode_id, due=due)


def review_conferences_in_time(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """RCPC-TIMELY: review conferences due in period; held by their due date."""
    for plan in book.all("cp_plan", ChildProtectionPlan):
        yield from _review_dues(book, plan, ctx.as_at)


def _next_review_due(book: CaseBook, plan: ChildProtectionPlan, as_at: date) -> date | None:
    start = _plan_start(book, plan)
    if start is None:
        return None
    reviews = _reviews(book, plan, as_at)
    if not reviews:
        return add_months(start, FIRST_REVIEW_MONTHS)
    return add_months(reviews[-1].held_on, LATER_REVIEW_MONTHS)


def _open_plans(book: CaseBook, as_at: date) -> dict[str, ChildProtectionPlan]:
    """Each child's open plan at the as-at date (the latest, if plans overlap)."""
    return open_per_child(book.all("cp_plan", ChildProtectionPlan), as_at)


def last_seen(book: CaseBook, child_id: str, since: date, as_at: date) -> date | None:
    """The child's latest visit from ``since`` to the as-at date in which the child was seen,
    whatever plan or placement it names (section 10.4)."""
    seen = [
        v.held_on
        for v in book.of_child("visit", child_id, Visit)
        if v.child_seen and since <= v.held_on <= as_at
    ]
    return max(seen, default=None)


def children_on_plans_seen_within_standard(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CP-VISITS: children on a CP plan at the as-at date whose plan has been open at least the
    visit standard; the child was last seen within the standard (default 10 working days)."""
    standard = ctx.settings.cp_visit_standard_working_days
    for plan in _open_plans(book, ctx.as_at).values():
        assert plan.started_on is not None
        if ctx.calendar.working_days_between(plan.started_on, ctx.as_at) < standard:
            continue
        seen_on = last_seen(book, plan.child_id, plan.started_on, ctx.as_at)
        met = (
            seen_on is not None
            and ctx.calendar.working_days_between(seen_on, ctx.as_at) <= standard
        )
        due = ctx.calendar.add_working_days(seen_on or plan.started_on, standard)
        team = plan.team_at(ctx.as_at)
        yield Outcome(team, ctx.as_at, met, plan.child_id, plan.episode_id, due=due)


def children_on_plans_for_15_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CP-15M: children on a CP plan at the as-at date; the plan has been open 15 months or more."""
    threshold = add_months(ctx.as_at, -15)
    for plan in _open_plans(book, ctx.as_at).values():
        assert plan.started_on is not None
        yield Outcome(
            plan.team_at(ctx.as_at),
            ctx.as_at,
            plan.started_on <= threshold,
            plan.child_id,
            plan.episode_id,
        )


def plans_ending_after_2_years(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CPP-2YRS: plans ended in period; the plan lasted 2 years or more. A plan whose start has
    not arrived stays in the cohort and is not counted as lasting 2 years (section 10.2)."""
    for plan in book.all("cp_plan", ChildProtectionPlan):
        if plan.ended_on is None:
            continue
        lasted = plan.started_on is not None and plan.ended_on >= add_months(plan.started_on, 24)
        yield Outcome(
            plan.team_of("cp_plan_ended"), plan.ended_on, lasted, plan.child_id, plan.episode_id
        )


def _repeat_plans(book: CaseBook, within_months: int | None) -> Iterator[Outcome]:
    """Each plan started, met when the child had an earlier plan (within_months: one that ended
    within that many months before this start, or is still open)."""
    for plan in book.all("cp_plan", ChildProtectionPlan):
        if plan.started_on is None:
            continue
        start = plan.started_on
        earlier = [
            p
            for p in book.of_child("cp_plan", plan.child_id, ChildProtectionPlan)
            if p.episode_id != plan.episode_id and p.started_on is not None and p.started_on < start
        ]
        if within_months is not None:
            since = add_months(start, -within_months)
            earlier = [p for p in earlier if p.ended_on is None or p.ended_on >= since]
        team = plan.team_of("cp_plan_started")
        yield Outcome(team, start, bool(earlier), plan.child_id, plan.episode_id)


def second_or_subsequent_plans(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CPP-REPEAT: children starting a CP plan in period; any earlier plan in this council.
    Counted per child (section 10.5, see ``any_per_child``)."""
    return _repeat_plans(book, None)


def second_plans_within_2_years(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CPP-REPEAT-2Y: the variant, an earlier plan that ended within 2 years of this start or is
    still open."""
    return _repeat_plans(book, 24)


def open_child_protection_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """For every open plan: the first core group (until held), the next review conference,
    and the next visit within the standard."""
    standard = ctx.settings.cp_visit_standard_working_days
    for plan in _open_plans(book, ctx.as_at).values():
        start = _plan_start(book, plan)
        assert plan.started_on is not None
        team = plan.team_at(ctx.as_at)
        if start is not None and not _core_groups(book, plan, ctx.as_at):
            due = ctx.calendar.add_working_days(start, CORE_GROUP_WORKING_DAYS)
            yield OpenClock("CORE-10WD", team, plan.child_id, plan.episode_id, due)
        review_due = _next_review_due(book, plan, ctx.as_at)
        if review_due is not None:
            yield OpenClock("RCPC-TIMELY", team, plan.child_id, plan.episode_id, review_due)
        seen_on = last_seen(book, plan.child_id, plan.started_on, ctx.as_at)
        visit_due = ctx.calendar.add_working_days(seen_on or plan.started_on, standard)
        yield OpenClock("CP-VISITS", team, plan.child_id, plan.episode_id, visit_due)


ICPC_15WD = Kpi(
    "ICPC-15WD",
    "Initial conferences within 15 working days of the strategy discussion",
    Polarity.HIGHER_IS_BETTER,
    initial_conferences_within_15_working_days,
    timeliness=True,
    open_clocks=open_initial_conference_clocks,
    standard=Standard(ICPC_WORKING_DAYS, "working days"),
    unrecorded_in=EVERY_DATASET,
)
ICPC_15WD_DFE = Kpi(
    "ICPC-15WD-DFE",
    "Initial conferences within 15 working days of the section 47 starting (DfE basis)",
    Polarity.HIGHER_IS_BETTER,
    initial_conferences_within_15_working_days_of_section_47,
    timeliness=True,
    open_clocks=open_initial_conference_clocks_from_section_47,
    reasons_of="ICPC-15WD",
    standard=Standard(ICPC_WORKING_DAYS, "working days"),
)
CORE_10WD = Kpi(
    "CORE-10WD",
    "First core group within 10 working days of the ICPC",
    Polarity.HIGHER_IS_BETTER,
    first_core_groups_within_10_working_days,
    timeliness=True,
    open_clocks=open_child_protection_clocks,
    standard=Standard(CORE_GROUP_WORKING_DAYS, "working days", closes_into_cohort=False),
    unrecorded_in=EVERY_DATASET,
)
RCPC_TIMELY = Kpi(
    "RCPC-TIMELY",
    "Review conferences in time",
    Polarity.HIGHER_IS_BETTER,
    review_conferences_in_time,
    timeliness=True,
)
CP_VISITS = Kpi(
    "CP-VISITS",
    "Children on CP plans seen within the local visit standard",
    Polarity.HIGHER_IS_BETTER,
    children_on_plans_seen_within_standard,
    point_in_time=True,
    timeliness=True,
    unrecorded_in=RETURNS,
)
CP_15M = Kpi(
    "CP-15M",
    "Children on a CP plan for 15 months or more",
    Polarity.LOWER_IS_BETTER,
    children_on_plans_for_15_months,
    point_in_time=True,
)
CPP_2YRS = Kpi(
    "CPP-2YRS",
    "CP plans ending that lasted 2 years or more",
    Polarity.LOWER_IS_BETTER,
    plans_ending_after_2_years,
)
CPP_REPEAT = Kpi(
    "CPP-REPEAT",
    "CP plans that are a second or subsequent plan",
    Polarity.LOWER_IS_BETTER,
    second_or_subsequent_plans,
    per_child=any_per_child,
)
CPP_REPEAT_2Y = Kpi(
    "CPP-REPEAT-2Y",
    "CP plans that are a second or subsequent plan within 2 years of the previous one",
    Polarity.LOWER_IS_BETTER,
    second_plans_within_2_years,
    per_child=any_per_child,
)

CHILD_PROTECTION_KPIS = (
    ICPC_15WD,
    ICPC_15WD_DFE,
    CORE_10WD,
    RCPC_TIMELY,
    CP_VISITS,
    CP_15M,
    CPP_2YRS,
    CPP_REPEAT,
    CPP_REPEAT_2Y,
)
