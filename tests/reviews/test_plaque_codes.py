"""Plaque tags sign shop code and plaque number; any change breaks them."""

from __future__ import annotations

from app.signing import KeyRing
from reviews.plaque_codes import plaque_url, sign_plaque, verify_plaque
from tests.conftest import TEST_KEYS

RING = KeyRing.from_spec(TEST_KEYS)


def test_verify_plaque_accepts_its_own_tag():
    assert verify_plaque(RING, "SHOP-1", 1, sign_plaque(RING, "SHOP-1", 1))


def test_verify_plaque_rejects_tag_of_previous_plaque():
    assert not verify_plaque(RING, "SHOP-1", 2, sign_plaque(RING, "SHOP-1", 1))


def test_verify_plaque_rejects_tag_of_other_shop():
    assert not verify_plaque(RING, "SHOP-2", 1, sign_plaque(RING, "SHOP-1", 1))


def test_verify_plaque_rejects_mutated_tag():
    tag = sign_plaque(RING, "SHOP-1", 1)
    mutated = tag[:-1] + ("0" if tag[-1] != "0" else "1")

    assert not verify_plaque(RING, "SHOP-1", 1, mutated)


def test_verify_plaque_accepts_lower_case():
    assert verify_plaque(RING, "SHOP-1", 1, sign_plaque(RING, "SHOP-1", 1).lower())


def test_plaque_url_shape():
    assert plaque_url("https://mp.test/", "SHOP 1", "ABC") == "https://mp.test/plaque/SHOP%201?c=ABC"
