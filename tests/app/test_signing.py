"""Keyed tags: deterministic, rotation-safe, and refusing every forgery or alteration."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest

from app.signing import (
    CROCKFORD_ALPHABET,
    TAG_BODY_LENGTH,
    KeyError_,
    KeyRing,
    encode_crockford,
    generate_key_spec,
    keyed_sha256,
    next_kid,
    normalize_crockford,
    random_crockford,
)

OLD = "A:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
NEW = "B:" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
MESSAGE = "06901234000012|K7Q2M9X4PA"


def test_sign_gives_key_id_and_body():
    tag = KeyRing.from_spec(OLD).sign(MESSAGE)

    assert tag[0] == "A" and len(tag) == 1 + TAG_BODY_LENGTH
    assert set(tag) <= set(CROCKFORD_ALPHABET)


def test_rotation_newest_signs_and_old_tags_still_verify():
    old_tag = KeyRing.from_spec(OLD).sign(MESSAGE)
    ring = KeyRing.from_spec(f"{OLD},{NEW}")

    new_tag = ring.sign(MESSAGE)

    assert new_tag[0] == "B" and ring.signing_kid == "B"
    assert ring.verify(MESSAGE, old_tag) and ring.verify(MESSAGE, new_tag)


def test_retired_key_no_longer_verifies():
    old_tag = KeyRing.from_spec(OLD).sign(MESSAGE)

    assert not KeyRing.from_spec(NEW).verify(MESSAGE, old_tag)


def test_every_single_character_change_of_a_tag_fails():
    ring = KeyRing.from_spec(f"{OLD},{NEW}")
    tag = ring.sign(MESSAGE)

    forgeries = [
        tag[:i] + char + tag[i + 1 :] for i in range(len(tag)) for char in CROCKFORD_ALPHABET if char != tag[i]
    ]

    assert not any(ring.verify(MESSAGE, forged) for forged in forgeries)


@pytest.mark.parametrize("message", ["06901234000012|K7Q2M9X4PB", "06901234000013|K7Q2M9X4PA", ""])
def test_tag_does_not_verify_another_message(message):
    ring = KeyRing.from_spec(OLD)

    assert not ring.verify(message, ring.sign(MESSAGE))


@pytest.mark.parametrize("tag", ["", "A", "A" * 40, None, "Z" + "0" * TAG_BODY_LENGTH])
def test_malformed_tags_fail(tag):
    assert not KeyRing.from_spec(OLD).verify(MESSAGE, tag)


def test_typed_tag_with_look_alikes_verifies():
    ring = KeyRing.from_spec(OLD)
    tag = ring.sign(MESSAGE)

    typed = tag.lower().replace("0", "o").replace("1", "l")

    assert ring.verify(MESSAGE, typed)


@pytest.mark.parametrize("spec", ["", "A:QUFB", "A:***", "AA:" + OLD[2:], "U:" + OLD[2:], f"{OLD},{OLD}"])
def test_bad_key_specs_are_refused(spec):
    with pytest.raises(KeyError_):
        KeyRing.from_spec(spec)


def test_generated_keys_load_and_rotate():
    spec = generate_key_spec("A")
    spec = f"{spec},{generate_key_spec(next_kid(spec))}"

    assert KeyRing.from_spec(spec).signing_kid == "B"


def test_random_crockford_and_encoding():
    assert len(random_crockford(10)) == 10 and set(random_crockford(50)) <= set(CROCKFORD_ALPHABET)
    assert encode_crockford(b"\xff") == "7Z"
    assert normalize_crockford(" ab-cd io ") == "ABCD10"


@pytest.mark.parametrize("length", [16, 32, 64, 65, 100])
def test_keyed_sha256_is_hmac_sha256_for_every_key_length(length):
    secret = secrets.token_bytes(length)
    messages = [b"", b"custody-chain\x1e1\x1fship", secrets.token_bytes(300)]

    keyed = keyed_sha256(secret)

    assert [keyed(message) for message in messages] == [
        hmac.new(secret, message, hashlib.sha256).digest() for message in messages
    ]


def test_tag_function_signs_as_sign_does():
    ring = KeyRing.from_spec(OLD + "," + NEW)
    messages = [MESSAGE, "", "activation-code|06901234000012|ZZZZZZZZZZZZ", *(random_crockford(12) for _ in range(50))]

    tag = ring.tag_function()

    assert [tag(message) for message in messages] == [ring.sign(message) for message in messages]
