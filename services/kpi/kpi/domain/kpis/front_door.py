"""Front door: contacts, referrals and strategy discussions (catalogue section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from casetime.events import Agency, local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import Contact, Referral, StrategyDiscussion
from kpi.domain.kpis.base import EVERY_DATASET, Kpi, OpenClock, Outcome, Polarity, Standard
from kpi.domain.periods import add_months

CONTACT_HOURS = timedelta(hours=72)
REFERRAL_DECISION_HOURS = timedelta(hours=24)
STRATEGY_HOURS = timedelta(hours=48)
STRATEGY_PARTNERS = frozenset({Agency.POLICE, Agency.HEALTH, Agency.EDUCATION})
# The referral decision's next step that opens a strategy discussion's 48-hour clock.
STRATEGY_NEXT_STEP = "strategy_discussion"


def _within(start: datetime | None, end: datetime, limit: timedelta) -> bool:
    """An hour clock; one whose start event is missing is not met (catalogue section 10.2)."""
    return start is not None and end - start <= limit


def _due(start: datetime | None, limit: timedelta) -> datetime | None:
    return start + limit if start is not None else None


def _open_at_end_of(start: datetime | None, end: datetime | None, ctx: RuleContext) -> bool:
    """An hour clock still running at the end of the as-at day."""
    if start is None or local_date(start) > ctx.as_at:
        return False
    return end is None or local_date(end) > ctx.as_at


def _hour_clock(
    kpi: str, team: str, child_id: str, episode_id: str, start: datetime, limit: timedelta
) -> OpenClock:
    due_at = start + limit
    return OpenClock(kpi, team, child_id, episode_id, local_date(due_at), due_at, limit)


def contacts_progressed_within_72_hours(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CONTACT-72H: contact decisions in period; decided <= 72 h after the contact."""
    for contact in book.all("contact", Contact):
        if contact.decided_at is None:
            continue
        due = _due(contact.received_at, CONTACT_HOURS)
        yield Outcome(
            contact.team_of("contact_decision"),
            local_date(contact.decided_at),
            _within(contact.received_at, contact.decided_at, CONTACT_HOURS),
            contact.child_id,
            contact.episode_id,
            due=local_date(due) if due is not None else None,
        )


def referral_decisions_within_24_hours(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REF-DECISION: referral decisions in period; decided <= 24 h after the referral, or
    within 1 working day when the council counts as Working Together does."""
    for referral in book.all("referral", Referral):
        if referral.decided_at is None:
            continue
        decided_on = local_date(referral.decided_at)
        if referral.received_at is None:
            met = False
        elif ctx.settings.referral_decision_basis == "working_day":
            received_on = local_date(referral.received_at)
            met = ctx.calendar.working_days_between(received_on, decided_on) <= 1
        else:
            met = _within(referral.received_at, referral.decided_at, REFERRAL_DECISION_HOURS)
        yield Outcome(
            referral.team_of("referral_decision"),
            decided_on,
            met,
            referral.child_id,
            referral.episode_id,
        )


def _first_strategy_discussions(book: CaseBook) -> list[StrategyDiscussion]:
    firsts: dict[tuple[str, str], StrategyDiscussion] = {}
    for sd in book.all("strategy_discussion", StrategyDiscussion):
        key = (sd.child_id, sd.referral_id)
        if key not in firsts or (sd.held_at, sd.episode_id) < (
            firsts[key].held_at,
            firsts[key].episode_id,
        ):
            firsts[key] = sd
    return list(firsts.values())


def strategy_discussions_within_48_hours(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """STRAT-48H: strategy discussions in period that are the first for their referral; held
    <= 48 h after the referral. One whose referral has not arrived is not met (section 10.2)."""
    for sd in _first_strategy_discussions(book):
        referral = book.get("referral", sd.child_id, sd.referral_id, Referral)
        received_at = referral.received_at if referral is not None else None
        due = _due(received_at, STRATEGY_HOURS)
        yield Outcome(
            sd.team_of("strategy_discussion_held"),
            local_date(sd.held_at),
            _within(received_at, sd.held_at, STRATEGY_HOURS),
            sd.child_id,
            sd.episode_id,
            due=local_date(due) if due is not None else None,
        )


def strategy_discussions_with_partners(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """STRAT-PARTNERS: strategy discussions in period; police, health and education attended."""
    for sd in book.all("strategy_discussion", StrategyDiscussion):
        yield Outcome(
            sd.team_of("strategy_discussion_held"),
            local_date(sd.held_at),
            sd.agencies >= STRATEGY_PARTNERS,
            sd.child_id,
            sd.episode_id,
        )


def re_referrals_within_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REREFERRAL-12M: referrals in period; the same child had a referral in the 12 months
    before (DfE: within 12 months of a previous referral), the day exactly 12 months before
    included (section 10.6)."""
    by_child: dict[str, list[Referral]] = defaultdict(list)
    for referral in book.all("referral", Referral):
        if referral.received_at is not None:
            by_child[referral.child_id].append(referral)
    for referrals in by_child.values():
        referrals.sort(key=lambda r: (r.received_at, r.episode_id))
        for i, referral in enumerate(referrals):
            assert referral.received_at is not None
            received_on = local_date(referral.received_at)
            window_start = add_months(received_on, -12)
            previous = [
                r
                for r in referrals[:i]
                if r.received_at is not None and local_date(r.received_at) >= window_start
            ]
            yield Outcome(
                referral.team_of("referral_received"),
                received_on,
                bool(previous),
                referral.child_id,
                referral.episode_id,
            )


def open_contact_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Contacts received and not decided by the end of the as-at day: due 72 hours on."""
    for c in book.all("contact", Contact):
        if c.received_at is not None and _open_at_end_of(c.received_at, c.decided_at, ctx):
            yield _hour_clock(
                "CONTACT-72H",
                c.team_at(ctx.as_at),
                c.child_id,
                c.episode_id,
                c.received_at,
                CONTACT_HOURS,
            )


def open_referral_decision_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Referrals received and not decided by the end of the as-at day: due 24 hours on (or on
    the next working day, on the Working Together basis)."""
    for r in book.all("referral", Referral):
        if r.received_at is None or not _open_at_end_of(r.received_at, r.decided_at, ctx):
            continue
        team = r.team_at(ctx.as_at)
        if ctx.settings.referral_decision_basis == "working_day":
            due = ctx.calendar.add_working_days(local_date(r.received_at), 1)
            yield OpenClock("REF-DECISION", team, r.child_id, r.episode_id, due)
        else:
            yield _hour_clock(
                "REF-DECISION",
                team,
                r.child_id,
                r.episode_id,
                r.received_at,
                REFERRAL_DECISION_HOURS,
            )


def open_strategy_discussion_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Referrals whose decision, by the as-at date, was a strategy discussion, and none held by
    the end of that day: due 48 hours after the referral."""
    held = {
        (sd.child_id, sd.referral_id)
        for sd in book.all("strategy_discussion", StrategyDiscussion)
        if local_date(sd.held_at) <= ctx.as_at
    }
    for r in book.all("referral", Referral):
        if r.received_at is None or r.decided_at is None or local_date(r.decided_at) > ctx.as_at:
            continue
        if (r.next_steps or "").strip().lower() != STRATEGY_NEXT_STEP:
            continue
        if (r.child_id, r.episode_id) in held or local_date(r.received_at) > ctx.as_at:
            continue
        team = r.team_at(ctx.as_at)
        yield _hour_clock(
            "STRAT-48H", team, r.child_id, r.episode_id, r.received_at, STRATEGY_HOURS
        )


CONTACT_72H = Kpi(
    "CONTACT-72H",
    "Contacts progressed within 72 hours",
    Polarity.HIGHER_IS_BETTER,
    contacts_progressed_within_72_hours,
    timeliness=True,
    open_clocks=open_contact_clocks,
    standard=Standard(72, "hours"),
    unrecorded_in=EVERY_DATASET,
)
REF_DECISION = Kpi(
    "REF-DECISION",
    "Referral decisions within 24 hours",
    Polarity.HIGHER_IS_BETTER,
    referral_decisions_within_24_hours,
    timeliness=True,
    open_clocks=open_referral_decision_clocks,
    standard=Standard(24, "hours"),
    unrecorded_in=EVERY_DATASET,
)
STRAT_48H = Kpi(
    "STRAT-48H",
    "Strategy discussions within 48 hours of referral",
    Polarity.HIGHER_IS_BETTER,
    strategy_discussions_within_48_hours,
    timeliness=True,
    open_clocks=open_strategy_discussion_clocks,
    standard=Standard(48, "hours"),
    unrecorded_in=EVERY_DATASET,
)
STRAT_PARTNERS = Kpi(
    "STRAT-PARTNERS",
    "Strategy discussions with police, health and education all present",
    Polarity.HIGHER_IS_BETTER,
    strategy_discussions_with_partners,
    unrecorded_in=EVERY_DATASET,
)
REREFERRAL_12M = Kpi(
    "REREFERRAL-12M",
    "Re-referrals within 12 months",
    Polarity.LOWER_IS_BETTER,
    re_referrals_within_12_months,
)

FRONT_DOOR_KPIS = (CONTACT_72H, REF_DECISION, STRAT_48H, STRAT_PARTNERS, REREFERRAL_12M)
