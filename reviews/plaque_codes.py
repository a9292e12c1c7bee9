"""Plaque codes: the signed tag over shop code and plaque number, and the one place plaque URLs are built."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from app.signing import KeyRing, normalize_crockford


def plaque_message(shop_code: str, number: int) -> str:
    """Return the text a plaque tag signs: the shop code and the plaque's number, so a re-issue changes it."""
    return f"plaque|{shop_code}|{number}"


def sign_plaque(ring: KeyRing, shop_code: str, number: int) -> str:
    """Return the tag printed on plaque `number` of shop `shop_code`."""
    return ring.sign(plaque_message(shop_code, number))


def verify_plaque(ring: KeyRing, shop_code: str, number: int, tag: str) -> bool:
    """Tell whether `tag` is the genuine tag of plaque `number` of `shop_code` (constant-time)."""
    return ring.verify(plaque_message(shop_code, number), normalize_crockford(tag or ""))


def plaque_url(public_base_url: str, shop_code: str, tag: str) -> str:
    """Return the URL printed (as a QR code) on a plaque."""
    return f"{public_base_url.rstrip('/')}/plaque/{quote(shop_code, safe='')}?{urlencode({'c': tag})}"
