"""Certification thresholds and review settings: the defaults are valid, broken ones name the key."""

from __future__ import annotations

import copy
import json

import pytest

from app.errors import InvalidInput
from reviews.settings import (
    DEFAULT_THRESHOLDS,
    ReviewSettings,
    ThresholdsInvalid,
    configured_thresholds,
    parse_thresholds,
    review_settings,
)


def broken(path: str, value: object) -> dict:
    thresholds = copy.deepcopy(DEFAULT_THRESHOLDS)
    *parents, last = path.split(".")
    target = thresholds
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return thresholds


def test_parse_thresholds_accepts_defaults():
    thresholds = parse_thresholds(DEFAULT_THRESHOLDS)

    assert thresholds.confirmations == 2
    assert thresholds.levels["gold"]["min_rating"] == 4.4


def test_parse_thresholds_round_trips_through_to_dict():
    thresholds = parse_thresholds(DEFAULT_THRESHOLDS)

    assert parse_thresholds(json.dumps(thresholds.to_dict())) == thresholds


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("confirmations", 0, "thresholds.confirmations"),
        ("window_days", "ninety", "thresholds.window_days"),
        ("cure_days", ..., "thresholds.cure_days"),
        ("levels.gold.min_rating", 6, "thresholds.levels.gold.min_rating"),
        ("levels.gold.min_rating", 3.0, "thresholds.levels.gold.min_rating"),
        ("levels.certified.min_completion_rate", 1.5, "thresholds.levels.certified.min_completion_rate"),
        ("levels.certified.min_reviews", 2.5, "thresholds.levels.certified.min_reviews"),
        ("levels.certified.min_rating", True, "thresholds.levels.certified.min_rating"),
        (
            "levels.certified.max_roadside_response_minutes",
            -1,
            "thresholds.levels.certified.max_roadside_response_minutes",
        ),
        ("levels.certified.speed", 1, "thresholds.levels.certified.speed"),
        ("levels.platinum", {}, "thresholds.levels.platinum"),
        ("levels.candidate", ..., "thresholds.levels.candidate"),
        ("levels.candidate", [], "thresholds.levels.candidate"),
        ("integrity.max_counterfeit_incidents", -1, "thresholds.integrity.max_counterfeit_incidents"),
    ],
)
def test_parse_thresholds_rejects_broken_key(path, value, field):
    with pytest.raises(ThresholdsInvalid) as caught:
        parse_thresholds(broken(path, value))

    assert caught.value.field == field


def test_parse_thresholds_rejects_bad_json():
    with pytest.raises(ThresholdsInvalid) as caught:
        parse_thresholds("{not json", field="CERTIFICATION_THRESHOLDS")

    assert caught.value.field == "CERTIFICATION_THRESHOLDS"


def test_configured_thresholds_names_the_setting():
    with pytest.raises(ThresholdsInvalid) as caught:
        configured_thresholds({"CERTIFICATION_THRESHOLDS": json.dumps(broken("confirmations", -2))})

    assert caught.value.field == "CERTIFICATION_THRESHOLDS.confirmations"


def test_review_settings_defaults():
    assert review_settings({}) == ReviewSettings()


def test_review_settings_reads_strings_from_environment():
    assert review_settings({"REVIEW_HALF_LIFE_DAYS": "90"}).half_life_days == 90.0


@pytest.mark.parametrize(
    ("name", "value"), [("REVIEW_PRIOR_STRENGTH", "x"), ("REVIEW_WINDOW_DAYS", 0), ("REVIEW_DEFAULT_PRIOR", 7)]
)
def test_review_settings_rejects_bad_value(name, value):
    with pytest.raises(InvalidInput) as caught:
        review_settings({name: value})

    assert caught.value.field == name
