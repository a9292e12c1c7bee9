"""Part identity: GTIN check digits, serials, GS1 Digital Link URLs (parsed and built here only), tags and
activation codes."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from app.errors import InvalidInput
from app.signing import TO_CROCKFORD, KeyRing, normalize_crockford

# 12 Crockford base32 characters: 60 random bits, unguessable and collision-free in practice per GTIN.
SERIAL_LENGTH = 12
MAX_SERIAL_LENGTH = 20
# 10 Crockford characters: 50 bits, above the 40 the design asks for; printed as two groups of five.
ACTIVATION_CODE_LENGTH = 10
GTIN_LENGTHS = (8, 12, 13, 14)
# GS1 AI 21 allows the 82-character "file-safe" set (GS1 General Specifications, figure 7.11-1).
_GS1_CHARSET = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
_DIGITAL_LINK_PATH = re.compile(r"^(?P<prefix>.*?)/01/(?P<gtin>[^/]*)/21/(?P<serial>[^/]*)/?$")


def gtin_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit for the digits of a GTIN without its last digit."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def normalize_gtin(raw: str, field: str = "gtin") -> str:
    """Return a GTIN-8/12/13/14 as 14 digits after checking its check digit."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) not in GTIN_LENGTHS:
        raise InvalidInput("a GTIN has 8, 12, 13 or 14 digits", field=field)
    gtin = text.zfill(14)
    if gtin_check_digit(gtin[:-1]) != gtin[-1]:
        raise InvalidInput("the GTIN's check digit should be %(value)s", field=field, value=gtin_check_digit(gtin[:-1]))
    return gtin


def build_gtin(company_prefix: str, item_reference: int) -> str:
    """Return the GTIN-14 (indicator 0) for an item reference under a GS1 company prefix."""
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 12:
        raise InvalidInput("a GS1 company prefix has 6 to 12 digits", field="GS1_COMPANY_PREFIX")
    reference_length = 12 - len(company_prefix)
    if not 0 <= item_reference < 10**reference_length:
        raise InvalidInput("the company prefix has no item references left", field="gtin")
    body = "0" + company_prefix + f"{item_reference:0{reference_length}d}"
    return body + gtin_check_digit(body)


def normalize_serial(raw: str, field: str = "serial") -> str:
    """Return a serial (GS1 AI 21: 1-20 characters of the GS1 character set)."""
    serial = (raw or "").strip()
    if not serial or len(serial) > MAX_SERIAL_LENGTH:
        raise InvalidInput(f"a serial has 1 to {MAX_SERIAL_LENGTH} characters", field=field)
    if not _GS1_CHARSET.match(serial):
        raise InvalidInput("a serial may only contain GS1 AI 21 characters", field=field)
    return serial


def new_serials(count: int) -> list[str]:
    """Return `count` distinct random Crockford base32 serials."""
    serials: set[str] = set()
    while len(serials) < count:
        missing = count - len(serials)
        # Base32 in C, then mapped to Crockford's alphabet: 10 random bytes give 16 characters, 12 are kept.
        text = base64.b32encode(secrets.token_bytes(10 * missing)).decode().translate(TO_CROCKFORD)
        serials.update(text[start : start + SERIAL_LENGTH] for start in range(0, 16 * missing, 16))
    return list(serials)


def tag_message(gtin: str, serial: str) -> str:
    """Return the message a part's public tag signs."""
    return f"{gtin}|{serial}"


def activation_code_for(ring: KeyRing, gtin: str, serial: str, kid: str | None = None) -> str:
    """Derive a part's activation code from key `kid` (the newest when None), so labels can be re-printed
    after a rotation with the key the batch was commissioned under; nothing is stored."""
    return ring.sign(_activation_code_message(gtin, serial), kid)[1 : ACTIVATION_CODE_LENGTH + 1]


def _activation_code_message(gtin: str, serial: str) -> str:
    return f"activation-code|{gtin}|{serial}"


def _activation_hash_message(gtin: str, serial: str, code: str) -> str:
    return f"activation|{gtin}|{serial}|{code}"


def activation_kid(stored_hash: str) -> str:
    """Return the id of the key a part's activation code was derived with (its stored hash is signed by it)."""
    return stored_hash[0].upper()


def hash_activation_code(ring: KeyRing, gtin: str, serial: str, code: str) -> str:
    """Return the keyed hash stored in place of an activation code."""
    return ring.sign(_activation_hash_message(gtin, serial, normalize_crockford(code)))


def new_part_codes(ring: KeyRing, gtin: str, serials: list[str]) -> Iterator[tuple[str, str, str]]:
    """Yield (serial, tag, activation hash) per serial under the newest key: what commissioning stores, in a
    tight loop (the same values as `ring.sign(tag_message(...))` and `hash_activation_code`)."""
    sign = ring.tag_function()
    for serial in serials:
        # A derived code is already normal (Crockford's alphabet, upper case), so it is hashed as it is.
        code = sign(_activation_code_message(gtin, serial))[1 : ACTIVATION_CODE_LENGTH + 1]
        yield serial, sign(tag_message(gtin, serial)), sign(_activation_hash_message(gtin, serial, code))


def is_activation_code(ring: KeyRing, gtin: str, serial: str, code: str, stored_hash: str) -> bool:
    """Tell whether `code` is the part's activation code (any key of the ring, constant-time)."""
    return ring.verify(_activation_hash_message(gtin, serial, normalize_crockford(code)), stored_hash)


def format_activation_code(code: str) -> str:
    """Show an activation code in two groups of five for typing off a label."""
    return f"{code[:5]}-{code[5:]}"


def build_part_url(base_url: str, gtin: str, serial: str, tag: str) -> str:
    """Return the GS1 Digital Link a part's QR code carries (the one place such URLs are built)."""
    return f"{build_part_uri(base_url, gtin, serial)}?c={tag}"


def build_part_uri(base_url: str, gtin: str, serial: str) -> str:
    """Return a part's Digital Link URI without its tag: its identity in EPCIS documents."""
    return f"{base_url.rstrip('/')}/01/{gtin}/21/{serial}"


@dataclass(frozen=True)
class DigitalLink:
    """What a scanned code says: the identity, the tag and the GS1 attributes that came with it."""

    gtin: str
    serial: str
    tag: str
    lot: str | None = None
    production_date: date | None = None
    origin: str | None = None


def _production_date(value: str | None) -> date | None:
    """Read GS1 AI 11 (YYMMDD, DD may be 00); unreadable values are ignored like unknown attributes."""
    if not value or not re.fullmatch(r"\d{6}", value):
        return None
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:6]) or 1
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_digital_link(url: str, field: str = "url") -> DigitalLink:
    """Parse a Digital Link URL or path (`.../01/{gtin}/21/{serial}?c={tag}&10=...&11=...`)."""
    text = (url or "").strip()
    if len(text) > 2000:
        raise InvalidInput("the URL is too long to be a part code", field=field)
    parts = urlsplit(text)
    match = _DIGITAL_LINK_PATH.match(parts.path)
    if match is None:
        raise InvalidInput("not a part code URL: it needs /01/{gtin}/21/{serial}", field=field)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else None
    return read_identifiers(
        unquote(match["gtin"]),
        unquote(match["serial"]),
        query.get("c", ""),
        lot=query.get("10"),
        production_date=query.get("11"),
        origin=origin,
    )


def read_identifiers(
    gtin: str,
    serial: str,
    tag: str,
    lot: str | None = None,
    production_date: str | None = None,
    origin: str | None = None,
) -> DigitalLink:
    """Validate the pieces of a code (raising InvalidInput naming the bad one) and return them."""
    tag = (tag or "").strip()
    if len(tag) > 40:
        raise InvalidInput("the tag is too long", field="c")
    return DigitalLink(
        gtin=normalize_gtin(gtin),
        serial=normalize_serial(serial),
        tag=tag,
        lot=(lot or None) and lot[:20],
        production_date=_production_date(production_date),
        origin=origin,
    )


@lru_cache(maxsize=16)
def origin_of(base_url: str) -> str:
    """Return the scheme and host of `base_url`, lower case, as parse_digital_link reports origins."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()
