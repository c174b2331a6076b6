"""Front door: contacts, referrals and strategy discussions (catalogue section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from casetime.events import Agency, local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import Contact, Referral, StrategyDiscussion
from kpi.domain.kpis.base import Kpi, Outcome, Polarity
from kpi.domain.periods import add_months

CONTACT_HOURS = timedelta(hours=72)
REFERRAL_DECISION_HOURS = timedelta(hours=24)
STRATEGY_HOURS = timedelta(hours=48)
STRATEGY_PARTNERS = frozenset({Agency.POLICE, Agency.HEALTH, Agency.EDUCATION})


def contacts_progressed_within_72_hours(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CONTACT-72H: contact decisions in period; decided <= 72 h after the contact."""
    for contact in book.all("contact", Contact):
        if contact.received_at is None or contact.decided_at is None:
            continue
        yield Outcome(
            contact.team,
            local_date(contact.decided_at),
            contact.decided_at - contact.received_at <= CONTACT_HOURS,
            contact.child_id,
            contact.episode_id,
            due=local_date(contact.received_at + CONTACT_HOURS),
        )


def referral_decisions_within_24_hours(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REF-DECISION: referral decisions in period; decided <= 24 h after the referral, or
    within 1 working day when the council counts as Working Together does."""
    for referral in book.all("referral", Referral):
        if referral.received_at is None or referral.decided_at is None:
            continue
        received_on, decided_on = local_date(referral.received_at), local_date(referral.decided_at)
        if ctx.settings.referral_decision_basis == "working_day":
            met = ctx.calendar.working_days_between(received_on, decided_on) <= 1
        else:
            met = referral.decided_at - referral.received_at <= REFERRAL_DECISION_HOURS
        yield Outcome(referral.team, decided_on, met, referral.child_id, referral.episode_id)


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
    <= 48 h after the referral. One whose referral has not arrived cannot be timed."""
    for sd in _first_strategy_discussions(book):
        referral = book.get("referral", sd.child_id, sd.referral_id, Referral)
        if referral is None or referral.received_at is None:
            continue
        yield Outcome(
            sd.team,
            local_date(sd.held_at),
            sd.held_at - referral.received_at <= STRATEGY_HOURS,
            sd.child_id,
            sd.episode_id,
            due=local_date(referral.received_at + STRATEGY_HOURS),
        )


def strategy_discussions_with_partners(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """STRAT-PARTNERS: strategy discussions in period; police, health and education attended."""
    for sd in book.all("strategy_discussion", StrategyDiscussion):
        yield Outcome(
            sd.team,
            local_date(sd.held_at),
            sd.agencies >= STRATEGY_PARTNERS,
            sd.child_id,
            sd.episode_id,
        )


def re_referrals_within_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REREFERRAL-12M: referrals in period; the same child had a referral in the 12 months
    before (DfE: within 12 months of a previous referral)."""
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
                referral.team, received_on, bool(previous), referral.child_id, referral.episode_id
            )


CONTACT_72H = Kpi(
    "CONTACT-72H",
    "Contacts progressed within 72 hours",
    Polarity.HIGHER_IS_BETTER,
    contacts_progressed_within_72_hours,
    timeliness=True,
)
REF_DECISION = Kpi(
    "REF-DECISION",
    "Referral decisions within 24 hours",
    Polarity.HIGHER_IS_BETTER,
    referral_decisions_within_24_hours,
    timeliness=True,
)
STRAT_48H = Kpi(
    "STRAT-48H",
    "Strategy discussions within 48 hours of referral",
    Polarity.HIGHER_IS_BETTER,
    strategy_discussions_within_48_hours,
    timeliness=True,
)
STRAT_PARTNERS = Kpi(
    "STRAT-PARTNERS",
    "Strategy discussions with police, health and education all present",
    Polarity.HIGHER_IS_BETTER,
    strategy_discussions_with_partners,
)
REREFERRAL_12M = Kpi(
    "REREFERRAL-12M",
    "Re-referrals within 12 months",
    Polarity.LOWER_IS_BETTER,
    re_referrals_within_12_months,
)

FRONT_DOOR_KPIS = (CONTACT_72H, REF_DECISION, STRAT_48H, STRAT_PARTNERS, REREFERRAL_12M)
