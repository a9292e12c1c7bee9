"""Certification over real data: KPIs from bookings, roadside offers, installs and alerts; tiers with evidence."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import SESSIONMAKER_KEY, utcnow
from app.jobs import QUEUE_KEY, execute_job
from app.security import Role
from app.signing import KeyRing
from network.models import AssistanceOffer, BookingStatus, OfferStatus
from reviews.certification import compute_kpis, evaluate_certification, override_tier
from reviews.models import CertificationChange, CertificationState, EvaluationRun, Plaque
from reviews.settings import DEFAULT_THRESHOLDS, ReviewSettings, parse_thresholds
from reviews.tiers import Tier
from tests.conftest import TEST_KEYS
from tests.factories import auth_header, make_driver, make_user
from tests.network.factories import make_assistance_request
from tests.reviews.factories import install_genuine_parts, make_booking, make_shop, write_review
from traceability.models import Alert

RING = KeyRing.from_spec(TEST_KEYS)
THRESHOLDS = parse_thresholds(DEFAULT_THRESHOLDS)
NOW = utcnow()


def good_shop(session, reviews: int = 10, stars: int = 5, service: str = "repair"):
    shop = make_shop(session)
    for index in range(reviews):
        write_review(session, shop, stars, now=NOW - timedelta(days=3 * index + 1), service=service)
    return shop


def evaluate(session, now=NOW, shops=None):
    return evaluate_certification(session, None, THRESHOLDS, ReviewSettings(), RING, now, shops)


def tier_of(session, shop) -> str:
    return session.get(CertificationState, shop.id).tier


def test_compute_kpis_counts_bookings_and_roadside(session):
    shop = make_shop(session)
    for status in [BookingStatus.COMPLETED] * 3 + [BookingStatus.REJECTED, BookingStatus.CANCELLED]:
        make_booking(session, shop, status=status, start=NOW - timedelta(days=2))
    make_booking(session, shop, status=BookingStatus.CONFIRMED, start=NOW - timedelta(days=3))
    request = make_assistance_request(session)
    session.add(
        AssistanceOffer(
            request_id=request.id,
            shop_id=shop.id,
            distance_km=5,
            status=OfferStatus.ACCEPTED,
            offered_at=NOW - timedelta(hours=5),
            responded_at=NOW - timedelta(hours=5) + timedelta(minutes=12),
        )
    )
    session.flush()
    install_genuine_parts(session, shop, 2, installed_at=NOW - timedelta(days=10))

    kpis = compute_kpis(session, [shop], {shop.id: (4.2, 9)}, THRESHOLDS, NOW)[shop.id]

    assert kpis.completion_rate == pytest.approx(3 / 5)
    assert kpis.rejection_rate == pytest.approx(1 / 5)
    assert kpis.no_show_rate == pytest.approx(1 / 4)
    assert kpis.roadside_acceptance_rate == 1.0
    assert kpis.roadside_response_minutes == pytest.approx(12)
    assert kpis.genuine_part_ratio == pytest.approx(2 / 3)


def test_compute_kpis_genuine_ratio_not_judged_before_any_install(session):
    shop = make_shop(session)
    make_booking(session, shop, start=NOW - timedelta(days=2))

    kpis = compute_kpis(session, [shop], {}, THRESHOLDS, NOW)[shop.id]

    assert kpis.genuine_part_ratio is None


def test_evaluate_promotes_one_step_after_two_evaluations(session):
    shop = good_shop(session)

    evaluate(session)
    first = tier_of(session, shop)
    evaluate(session, NOW + timedelta(minutes=1))
    second = tier_of(session, shop)

    assert (first, second) == (Tier.NONE, Tier.CANDIDATE)
    assert shop.certification_tier == "none"


def test_evaluate_counterfeit_incident_suspends_at_once(session):
    shop = good_shop(session)
    state = CertificationState(shop_id=shop.id, tier=Tier.GOLD, kpis={})
    session.add(state)
    session.add(
        Alert(dedupe_key=f"x-{shop.id}", cause="resale_after_install", organization_id=shop.organization_id, details={})
    )
    session.flush()

    evaluate(session)

    change = session.scalar(select(CertificationChange).where(CertificationChange.shop_id == shop.id))
    assert tier_of(session, shop) == Tier.SUSPENDED
    assert shop.certification_tier == "none"
    assert change.kind == "integrity"
    assert change.kpis["counterfeit_incidents"] == 1


@pytest.mark.parametrize(
    ("cause", "status", "counted"),
    [
        ("activation_replayed", "open", 1),
        ("reported_counterfeit", "open", 0),
        ("reported_counterfeit", "investigating", 1),
        ("bad_tag", "investigating", 0),
    ],
)
def test_compute_kpis_counterfeit_incidents_by_cause(session, cause, status, counted):
    shop = make_shop(session)
    session.add(Alert(dedupe_key=f"k-{shop.id}", cause=cause, status=status, organization_id=shop.organization_id))
    session.flush()

    kpis = compute_kpis(session, [shop], {}, THRESHOLDS, NOW)[shop.id]

    assert kpis.counterfeit_incidents == counted


def test_evaluate_fake_reviews_suspend_at_once(session):
    shop = good_shop(session)
    session.add(CertificationState(shop_id=shop.id, tier=Tier.CERTIFIED, kpis={}))
    for index in range(3):
        write_review(session, shop, 5, now=NOW - timedelta(hours=index), device="farm")

    evaluate(session)

    assert tier_of(session, shop) == Tier.SUSPENDED


def test_a_shop_with_repairs_and_no_recorded_installs_is_not_yet_measured_and_may_certify(session):
    # Issue 10 row 28: one install elsewhere in the network no longer makes every other shop score 0.
    shop = good_shop(session)
    install_genuine_parts(session, make_shop(session), 1, installed_at=NOW - timedelta(days=60))
    session.add(CertificationState(shop_id=shop.id, tier=Tier.CANDIDATE, kpis={}))
    session.flush()

    evaluate(session)
    evaluate(session, NOW + timedelta(minutes=1))

    assert session.get(CertificationState, shop.id).kpis["genuine_part_ratio"] is None
    assert tier_of(session, shop) == Tier.CERTIFIED


def test_the_genuine_ratio_counts_only_repairs_after_the_shops_first_install(session):
    shop = make_shop(session)
    for days_ago in (40, 30, 20, 5, 4):
        make_booking(session, shop, start=NOW - timedelta(days=days_ago))
    install_genuine_parts(session, shop, 1, installed_at=NOW - timedelta(days=10))

    kpis = compute_kpis(session, [shop], {}, THRESHOLDS, NOW)[shop.id]

    assert kpis.completed_repairs == 2
    assert kpis.genuine_part_ratio == pytest.approx(1 / 2)


def test_after_the_provinces_roll_out_a_shop_without_installs_is_judged_and_stays_candidate(session):
    shop = good_shop(session)
    shop.province = "Henan"
    raw = copy.deepcopy(DEFAULT_THRESHOLDS) | {
        "genuine_rollout": {"河南": (NOW - timedelta(days=90)).date().isoformat()}
    }
    thresholds = parse_thresholds(raw)
    session.add(CertificationState(shop_id=shop.id, tier=Tier.CANDIDATE, kpis={}))
    session.flush()

    for moment in (NOW, NOW + timedelta(minutes=1)):
        evaluate_certification(session, None, thresholds, ReviewSettings(), RING, moment)

    assert session.get(CertificationState, shop.id).kpis["genuine_part_ratio"] == 0.0
    assert tier_of(session, shop) == Tier.CANDIDATE


@pytest.mark.parametrize(
    ("rollout", "field"),
    [
        ({"Atlantis": "2026-01-01"}, "thresholds.genuine_rollout.Atlantis"),
        ({"河南": "next spring"}, "thresholds.genuine_rollout.河南"),
        (["河南"], "thresholds.genuine_rollout"),
    ],
)
def test_bad_roll_out_days_are_refused_naming_the_key(rollout, field):
    from reviews.settings import ThresholdsInvalid

    with pytest.raises(ThresholdsInvalid) as refused:
        parse_thresholds(copy.deepcopy(DEFAULT_THRESHOLDS) | {"genuine_rollout": rollout})

    assert refused.value.field == field


def test_evaluate_certifying_issues_a_plaque(session):
    shop = good_shop(session, service="towing")
    session.add(CertificationState(shop_id=shop.id, tier=Tier.CANDIDATE, kpis={}))
    session.flush()

    evaluate(session)
    evaluate(session, NOW + timedelta(minutes=1))

    assert tier_of(session, shop) == Tier.CERTIFIED
    assert shop.certification_tier == "certified"
    assert shop.organization.certification_tier == "certified"
    assert session.scalar(select(func.count()).where(Plaque.shop_id == shop.id)) == 1


def test_evaluate_probation_revoked_after_deadline(session):
    shop = good_shop(session, reviews=2, stars=2)
    session.add(
        CertificationState(shop_id=shop.id, tier=Tier.PROBATION, cure_deadline=NOW - timedelta(days=1), kpis={})
    )
    session.flush()

    evaluate(session)

    assert tier_of(session, shop) == Tier.REVOKED


def test_evaluate_records_run_with_thresholds_and_priors(session):
    good_shop(session, reviews=2)

    run = evaluate(session)

    assert session.get(EvaluationRun, run.id).thresholds == THRESHOLDS.to_dict()
    assert set(run.priors) == {"overall", "quality", "price", "timeliness", "honesty"}


def test_override_records_reason_and_snapshot(session):
    shop = good_shop(session, reviews=2)
    evaluate(session)
    oem = make_user(session, Role.OEM_ADMIN)

    change = override_tier(session, oem, shop, "gold", "pilot programme shop, audited on site", THRESHOLDS, RING, NOW)

    assert (change.kind, change.actor_id, change.to_tier) == ("override", oem.id, "gold")
    assert change.kpis["rating_count"] == 2
    assert shop.certification_tier == "gold"


def test_override_without_reason_is_rejected(session):
    shop = good_shop(session, reviews=1)

    with pytest.raises(Exception) as caught:
        override_tier(session, make_user(session, Role.OEM_ADMIN), shop, "gold", "ok", THRESHOLDS, RING, NOW)

    assert caught.value.field == "reason"


def _run_queued(app):
    """Run the evaluation the API queued, as the worker would."""
    [(run_id, name, _eta)] = app.extensions[QUEUE_KEY].submitted
    queue = app.extensions[QUEUE_KEY]
    return execute_job(
        app.extensions[SESSIONMAKER_KEY], app.config, name, run_id=run_id, queue=queue, extras=app.extensions
    )


def test_evaluate_api_queues_a_job_whose_run_shows_progress_and_result(app, client, session):
    shop = good_shop(session, reviews=3)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/certification/evaluate", json={}, headers=oem)
    queued = client.get(response.json["status_url"], headers=oem).json
    _run_queued(app)
    finished = client.get(response.json["status_url"], headers=oem).json

    assert response.status_code == 202 and response.json["state"] == "queued"
    assert queued["state"] == "queued"
    assert finished["state"] == "succeeded"
    assert finished["result"]["shops_evaluated"] >= 1
    assert finished["progress"]["done"] == finished["progress"]["total"] == finished["result"]["shops_evaluated"]
    assert client.get(f"/api/v1/shops/{shop.code}/certification").json["kpis"]["rating_count"] == 3


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda t: t.update(confirmations=0), "thresholds.confirmations"),
        (lambda t: t["levels"]["gold"].update(min_rating=9), "thresholds.levels.gold.min_rating"),
        (lambda t: t["levels"].pop("certified"), "thresholds.levels.certified"),
    ],
)
def test_evaluate_api_broken_thresholds_is_400_and_writes_nothing(client, session, mutate, field):
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))
    thresholds = copy.deepcopy(DEFAULT_THRESHOLDS)
    mutate(thresholds)

    response = client.post("/api/v1/certification/evaluate", json={"thresholds": thresholds}, headers=oem)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert session.scalar(select(func.count()).select_from(EvaluationRun)) == 0


def test_evaluate_api_broken_configured_thresholds_is_400(client, app, session):
    app.config["CERTIFICATION_THRESHOLDS"] = '{"window_days": 90'
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/certification/evaluate", json={}, headers=oem)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "CERTIFICATION_THRESHOLDS"


def test_evaluate_api_by_driver_is_forbidden(client, session):
    user, _customer = make_driver(session)

    response = client.post("/api/v1/certification/evaluate", json={}, headers=auth_header(session, user))

    assert response.status_code == 403


def test_override_api_unknown_tier_names_field(client, session):
    shop = make_shop(session)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post(
        f"/api/v1/shops/{shop.code}/certification/override",
        json={"tier": "platinum", "reason": "because I say so"},
        headers=oem,
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "tier"


def test_board_api_lists_pending(app, client, session):
    good_shop(session)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))
    client.post("/api/v1/certification/evaluate", json={}, headers=oem)
    _run_queued(app)

    response = client.get("/api/v1/certification?pending=true", headers=oem)

    assert response.json["items"][0]["pending"]["tier"] == "candidate"


def test_the_public_certification_record_names_no_staff_account(client, session):
    # Issue 10 row 14: the history says an OEM decision was taken, never by which OEM user.
    shop = make_shop(session)
    oem = make_user(session, Role.OEM_ADMIN)
    override_tier(session, oem, shop, Tier.WATCH, "complaints about parts pricing", THRESHOLDS, RING, NOW)

    public = client.get(f"/api/v1/shops/{shop.code}/certification").json
    staff = client.get(
        f"/api/v1/shops/{shop.code}/certification", headers=auth_header(session, make_user(session, Role.OEM_ADMIN))
    ).json

    assert [entry["by"] for entry in public["history"]] == ["oem"]
    assert all("actor" not in entry for entry in public["history"])
    assert staff["history"][0]["actor"] == oem.id
