"""Keyed tags (truncated HMAC-SHA256 in Crockford base32) with key ids, for part codes and plaques.

A tag is one key-id character followed by TAG_BODY_LENGTH base32 characters (5 bits each: 80 bits).
Several keys can be loaded at once: the newest (last listed) signs, all of them verify, so keys rotate
without invalidating the labels already printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TAG_BODY_LENGTH = 16
MIN_KEY_BYTES = 16


class KeyError_(ValueError):
    """The key specification cannot be used."""


_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


# Standard base32 (RFC 4648, in C) to Crockford's alphabet, letter for letter: the same 5-bit groups.
TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD_ALPHABET)


def encode_crockford(data: bytes) -> str:
    """Encode bytes as Crockford base32 (no padding, upper case)."""
    number = int.from_bytes(data, "big")
    length = (len(data) * 8 + 4) // 5
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD_ALPHABET[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def normalize_crockford(text: str) -> str:
    """Upper-case and map the look-alikes a person may type (O->0, I/L->1), dropping hyphens and spaces."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(_LOOK_ALIKES)


def random_crockford(length: int) -> str:
    """Return `length` random Crockford base32 characters from the system's CSPRNG."""
    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(length))


# Every two Crockford characters, indexed by the 10 bits they encode.
_PAIRS = [first + second for first in CROCKFORD_ALPHABET for second in CROCKFORD_ALPHABET]
_SHA256_BLOCK = 64


def sha256_pads(secret: bytes) -> tuple[bytes, bytes]:
    """Return HMAC-SHA256's inner and outer key blocks for `secret` (RFC 2104): HMAC(K, m) is
    SHA256(outer + SHA256(inner + m)). They are as secret as the key."""
    if len(secret) > _SHA256_BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_SHA256_BLOCK, b"\0")
    return bytes(byte ^ 0x36 for byte in secret), bytes(byte ^ 0x5C for byte in secret)


def keyed_sha256(secret: bytes) -> Callable[[bytes], bytes]:
    """Return `message -> HMAC-SHA256(secret, message)` with the key's padded states hashed once (RFC 2104):
    `hmac.digest` prepares them again on every call, which costs more than hashing a short message."""
    inner_block, outer_block = sha256_pads(secret)
    inner, outer = hashlib.sha256(inner_block), hashlib.sha256(outer_block)

    def keyed(message: bytes) -> bytes:
        step = inner.copy()
        step.update(message)
        result = outer.copy()
        result.update(step.digest())
        return result.digest()

    return keyed


@dataclass(frozen=True)
class SigningKey:
    """One secret key and the single character that names it inside tags."""

    kid: str
    secret: bytes


class KeyRing:
    """The set of keys in force: the last one signs, every one verifies."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise KeyError_("at least one signing key is required")
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise KeyError_("key ids must be unique")
        self._keys = {key.kid: key for key in keys}
        self._signing = keys[-1]

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        """Parse `kid:base64key,kid:base64key,...` (oldest first)."""
        keys = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kid, _, encoded = item.partition(":")
            if len(kid) != 1 or kid not in CROCKFORD_ALPHABET:
                raise KeyError_(f"key id {kid!r} must be one Crockford base32 character")
            try:
                secret = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KeyError_(f"key {kid} is not valid base64") from exc
            if len(secret) < MIN_KEY_BYTES:
                raise KeyError_(f"key {kid} is shorter than {MIN_KEY_BYTES} bytes")
            keys.append(SigningKey(kid, secret))
        return cls(keys)

    @property
    def signing_kid(self) -> str:
        """Return the id of the key that signs new tags."""
        return self._signing.kid

    def sign(self, message: str, kid: str | None = None) -> str:
        """Return the tag of `message` under key `kid` (the newest when None): re-deriving what an older key
        made, such as a batch's activation codes after a rotation."""
        key = self._signing if kid is None else self._keys.get(kid)
        if key is None:
            raise KeyError_(f"key {kid} is not in the key ring")
        return self._tag(key, message)

    def verify(self, message: str, tag: str) -> bool:
        """Tell whether `tag` was made for `message` by any key in the ring (constant-time)."""
        if not tag or len(tag) != 1 + TAG_BODY_LENGTH:
            return False
        key = self._keys.get(tag[0].upper())
        if key is None:
            return False
        return hmac.compare_digest(self._tag(key, message), normalize_crockford(tag))

    def mac(self, context: str, message: str, kid: str | None = None) -> str:
        """Return the hex HMAC-SHA256 of `message` under key `kid` (the newest when None), bound to `context`
        so that a MAC made for one purpose (the custody chain) is never a valid tag or MAC for another."""
        key = self._signing if kid is None else self._keys.get(kid)
        if key is None:
            raise KeyError_(f"key {kid} is not in the key ring")
        return hmac.new(key.secret, f"{context}\x1e{message}".encode(), hashlib.sha256).hexdigest()

    def mac_function(self, context: str, kid: str) -> Callable[[str], str]:
        """Return `message -> mac(context, message, kid)`, for checking many messages under one key in a loop."""
        key = self._keys.get(kid)
        if key is None:
            raise KeyError_(f"key {kid} is not in the key ring")
        keyed, prefix = keyed_sha256(key.secret), f"{context}\x1e".encode()

        def mac(message: str) -> str:
            return keyed(prefix + message.encode()).hex()

        return mac

    def tag_function(self) -> Callable[[str], str]:
        """Return `message -> sign(message)` under the newest key, for signing many messages in a loop."""
        kid, keyed, pairs, number = self._signing.kid, keyed_sha256(self._signing.secret), _PAIRS, int.from_bytes

        def tag(message: str) -> str:
            # The tag's 16 characters are the HMAC's first 80 bits, 10 at a time (two characters each).
            n = number(keyed(message.encode())[:10], "big")
            return (
                kid
                + pairs[n >> 70]
                + pairs[(n >> 60) & 1023]
                + pairs[(n >> 50) & 1023]
                + pairs[(n >> 40) & 1023]
                + pairs[(n >> 30) & 1023]
                + pairs[(n >> 20) & 1023]
                + pairs[(n >> 10) & 1023]
                + pairs[n & 1023]
            )

        return tag

    def pads_for_database(self) -> list[tuple[str, bytes, bytes]]:
        """Return (key id, inner block, outer block) of every key (`sha256_pads`), for a database that computes
        MACs with its own SHA-256 (traceability.chain hands them over by COPY, which the server never logs).
        They are as secret as the keys: never log them."""
        return [(key.kid, *sha256_pads(key.secret)) for key in self._keys.values()]

    def has_key(self, kid: str) -> bool:
        """Tell whether the ring holds key `kid`."""
        return kid in self._keys

    @staticmethod
    def _tag(key: SigningKey, message: str) -> str:
        digest = hmac.digest(key.secret, message.encode("utf-8"), "sha256")
        return key.kid + encode_crockford(digest[:10])[:TAG_BODY_LENGTH]


def generate_key_spec(kid: str = "A") -> str:
    """Return a fresh `kid:base64key` entry with a 256-bit random key."""
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def next_kid(spec: str) -> str:
    """Return the key id after the newest one in `spec`, for rotation."""
    kids = [item.split(":", 1)[0] for item in spec.split(",") if item.strip()]
    if not kids:
        return "A"
    index = (CROCKFORD_ALPHABET.index(kids[-1]) + 1) % len(CROCKFORD_ALPHABET)
    return CROCKFORD_ALPHABET[index]
