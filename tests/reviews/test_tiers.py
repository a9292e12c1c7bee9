"""The certification state machine: one step per confirmed proposal, integrity breaches at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reviews.tiers import Standing, Tier, apply_proposal, plaque_colour, propose_tier, qualified_level
from tests.reviews.factories import CERTIFICATION_NOW as NOW
from tests.reviews.factories import EVIDENCE as KPIS
from tests.reviews.factories import THRESHOLDS


@pytest.mark.parametrize(
    ("current", "evidence", "expected", "immediate"),
    [
        (Tier.NONE, "none", Tier.NONE, False),
        (Tier.NONE, "candidate", Tier.CANDIDATE, False),
        (Tier.NONE, "gold", Tier.CANDIDATE, False),
        (Tier.CANDIDATE, "certified", Tier.CERTIFIED, False),
        (Tier.CANDIDATE, "none", Tier.NONE, False),
        (Tier.CANDIDATE, "candidate", Tier.CANDIDATE, False),
        (Tier.CERTIFIED, "gold", Tier.GOLD, False),
        (Tier.CERTIFIED, "candidate", Tier.WATCH, False),
        (Tier.GOLD, "certified", Tier.CERTIFIED, False),
        (Tier.GOLD, "none", Tier.WATCH, False),
        (Tier.WATCH, "certified", Tier.CERTIFIED, False),
        (Tier.WATCH, "candidate", Tier.PROBATION, False),
        (Tier.PROBATION, "gold", Tier.CERTIFIED, False),
        (Tier.PROBATION, "candidate", Tier.PROBATION, False),
        (Tier.GOLD, "counterfeit", Tier.SUSPENDED, True),
        (Tier.CANDIDATE, "fake_reviews", Tier.SUSPENDED, True),
        (Tier.SUSPENDED, "gold", Tier.SUSPENDED, False),
        (Tier.REVOKED, "gold", Tier.REVOKED, False),
    ],
)
def test_propose_tier_rule_table(current, evidence, expected, immediate):
    proposal = propose_tier(current, KPIS[evidence], THRESHOLDS, NOW, NOW + timedelta(days=10))

    assert (proposal.tier, proposal.immediate) == (expected, immediate)


def test_propose_tier_revokes_after_cure_deadline():
    proposal = propose_tier(Tier.PROBATION, KPIS["candidate"], THRESHOLDS, NOW, NOW - timedelta(days=1))

    assert (proposal.tier, proposal.immediate) == (Tier.REVOKED, True)


def test_apply_proposal_needs_two_consecutive_evaluations():
    standing = Standing(Tier.CERTIFIED)
    proposal = propose_tier(Tier.CERTIFIED, KPIS["gold"], THRESHOLDS, NOW, None)

    first = apply_proposal(standing, proposal, THRESHOLDS, NOW)
    second = apply_proposal(first.standing, proposal, THRESHOLDS, NOW)

    assert (first.changed, first.standing.tier, first.standing.pending_tier) == (False, Tier.CERTIFIED, Tier.GOLD)
    assert (second.changed, second.standing.tier) == (True, Tier.GOLD)


def test_apply_proposal_interrupted_evidence_starts_over():
    standing = Standing(Tier.CERTIFIED)
    demote = propose_tier(Tier.CERTIFIED, KPIS["candidate"], THRESHOLDS, NOW, None)
    stay = propose_tier(Tier.CERTIFIED, KPIS["certified"], THRESHOLDS, NOW, None)

    pending = apply_proposal(standing, demote, THRESHOLDS, NOW).standing
    cleared = apply_proposal(pending, stay, THRESHOLDS, NOW).standing
    again = apply_proposal(cleared, demote, THRESHOLDS, NOW)

    assert cleared.pending_tier is None
    assert again.changed is False


def test_apply_proposal_integrity_breach_suspends_at_once():
    proposal = propose_tier(Tier.GOLD, KPIS["counterfeit"], THRESHOLDS, NOW, None)

    outcome = apply_proposal(Standing(Tier.GOLD), proposal, THRESHOLDS, NOW)

    assert (outcome.changed, outcome.standing.tier) == (True, Tier.SUSPENDED)


def test_apply_proposal_probation_sets_cure_deadline():
    standing = Standing(Tier.WATCH, Tier.PROBATION, 1)
    proposal = propose_tier(Tier.WATCH, KPIS["candidate"], THRESHOLDS, NOW, None)

    outcome = apply_proposal(standing, proposal, THRESHOLDS, NOW)

    assert outcome.standing.tier == Tier.PROBATION
    assert outcome.standing.cure_deadline == NOW + timedelta(days=THRESHOLDS.cure_days)


def test_qualified_level_names_what_is_missing():
    level, missing = qualified_level(KPIS["candidate"], THRESHOLDS)

    assert level == "candidate"
    assert any(item.startswith("rating 3.8 < 4") for item in missing)


@pytest.mark.parametrize(
    ("tier", "colour"),
    [
        (Tier.GOLD, "green"),
        (Tier.CERTIFIED, "green"),
        (Tier.WATCH, "amber"),
        (Tier.PROBATION, "amber"),
        (Tier.SUSPENDED, "red"),
        (Tier.REVOKED, "red"),
        (Tier.NONE, "red"),
        (None, "red"),
    ],
)
def test_plaque_colour_by_tier(tier, colour):
    assert plaque_colour(tier) == colour
