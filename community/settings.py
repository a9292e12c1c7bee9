"""The community settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from app.config import ConfigError

SHIPPED_KEYWORDS = Path(__file__).resolve().parent / "data" / "keywords.txt"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CommunitySettings:
    """Community settings with their types (see app/config.py DEFAULTS for what each means)."""

    new_account_days: int
    trusted_posts: int
    report_deadline: timedelta
    keywords: tuple[str, ...]
    ip_provinces: tuple[tuple[IpNetwork, str], ...]


def _positive(config: Mapping, name: str) -> int:
    try:
        value = int(config[name])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"MILEPOST_{name} must be a whole number") from exc
    if value < 0 or (value == 0 and name == "COMMUNITY_REPORT_HOURS"):
        raise ConfigError(f"MILEPOST_{name} must be positive")
    return value


@lru_cache(maxsize=8)
def read_keywords(path: str) -> tuple[str, ...]:
    """Return the terms of a keyword file: one a line, blank lines and # comments skipped."""
    try:
        lines = Path(path or SHIPPED_KEYWORDS).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"MILEPOST_COMMUNITY_KEYWORDS_FILE {path!r} cannot be read as UTF-8 text") from exc
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


@lru_cache(maxsize=8)
def read_ip_provinces(path: str) -> tuple[tuple[IpNetwork, str], ...]:
    """Return the (network, province) rows of an IP table, most specific network first."""
    if not path:
        return ()
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
        table = [(ipaddress.ip_network(row[0].strip(), strict=False), row[1].strip()) for row in rows]
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"MILEPOST_COMMUNITY_IP_PROVINCES_FILE {path!r} must be CSV rows of network,province"
        ) from exc
    return tuple(sorted(table, key=lambda row: -row[0].prefixlen))


def community_settings(config: Mapping) -> CommunitySettings:
    """Return the typed community settings from a configuration mapping (ConfigError on a bad value)."""
    return CommunitySettings(
        new_account_days=_positive(config, "COMMUNITY_NEW_ACCOUNT_DAYS"),
        trusted_posts=_positive(config, "COMMUNITY_TRUSTED_POSTS"),
        report_deadline=timedelta(hours=_positive(config, "COMMUNITY_REPORT_HOURS")),
        keywords=read_keywords(str(config["COMMUNITY_KEYWORDS_FILE"] or "")),
        ip_provinces=read_ip_provinces(str(config["COMMUNITY_IP_PROVINCES_FILE"] or "")),
    )
