"""Every setting with its default, environment overrides and start-up validation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "MILEPOST_"

DEFAULTS: dict[str, Any] = {
    # SQLAlchemy URL; empty means the SQLite file milepost.sqlite3 in the instance folder.
    "DATABASE_URL": "",
    # A read replica (a streaming-replication standby of DATABASE_URL) for the OEM's heavy reads: coverage,
    # scan statistics, EPCIS export, the activity log. Empty, or while it does not answer: the primary.
    "DATABASE_REPLICA_URL": "",
    # Signs session cookies and CSRF tokens; required unless DEBUG or TESTING.
    "SECRET_KEY": "",
    # "kid:base64key,..." part-code and plaque keys; newest signs, all verify. Empty: read the instance key file.
    "CODE_KEYS": "",
    # Origin printed into every QR code (part labels, plaques).
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    # Job queue of `milepost worker`: empty is the SQLite file jobs.sqlite3 in the instance folder;
    # redis://host:port/db in production, where every host's web workers and the worker share it.
    "JOBS_URL": "",
    # Zone in which times are shown and opening hours are read; storage is always UTC.
    "TIMEZONE": "Asia/Shanghai",
    # Language when neither the user's choice nor Accept-Language decides.
    "DEFAULT_LOCALE": "zh",
    # Languages the interface is translated into.
    "LOCALES": ["zh", "en"],
    # Largest request body accepted, in bytes (413 beyond it).
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    # Lifetime of an API bearer token, in hours.
    "TOKEN_HOURS": 24 * 30,
    # Lifetime of a browser sign-in, in hours (signing out or changing the password ends it sooner).
    "SIGN_IN_HOURS": 24,
    # Failed logins allowed per (account, client address) within LOGIN_WINDOW_SECONDS (then 429 for that pair
    # until they age out; the owner elsewhere still signs in).
    "LOGIN_MAX_FAILURES": 5,
    # Failed logins per account from all addresses together beyond which the right password also needs a code
    # texted to the account's phone.
    "LOGIN_MAX_ACCOUNT_FAILURES": 20,
    # Failed logins everywhere within the window that make a spray: every sign-in with a phone then needs a
    # texted code, and the OEM is alerted.
    "LOGIN_MAX_GLOBAL_FAILURES": 500,
    # Failed logins allowed per client address within the window; higher than per account because mobile
    # carriers put many phones behind one address (carrier-grade NAT).
    "LOGIN_MAX_CLIENT_FAILURES": 50,
    # Window for counting failed logins, in seconds.
    "LOGIN_WINDOW_SECONDS": 900,
    # Who sends text messages: "development" writes them to sms.log in the instance folder and the log;
    # "aliyun" sends them through Aliyun SMS with the four SMS_ALIYUN_* settings.
    "SMS_BACKEND": "development",
    # Aliyun AccessKey id of a RAM user allowed dysmsapi:SendSms only.
    "SMS_ALIYUN_ACCESS_KEY_ID": "",
    # Its AccessKey secret; keep it in the environment, never in the repository.
    "SMS_ALIYUN_ACCESS_KEY_SECRET": "",
    # The approved sign name (签名) printed in every text message.
    "SMS_ALIYUN_SIGN_NAME": "",
    # The approved template code of the verification message; its one variable is ${code}.
    "SMS_ALIYUN_TEMPLATE_CODE": "",
    # Aliyun template for inbox notifications sent as texts (one variable, ${text}); empty: texts are not sent.
    "SMS_ALIYUN_NOTICE_TEMPLATE_CODE": "",
    # The mini-program's app id and secret for WeChat subscription messages; empty: no WeChat copies are sent.
    "WECHAT_APP_ID": "",
    # Its secret; keep it in the environment, never in the repository.
    "WECHAT_APP_SECRET": "",
    # Which approved subscription template carries which notification kind: kind=template_id, comma-separated.
    "WECHAT_TEMPLATES": [],
    # Seconds a texted one-time code stays valid.
    "PHONE_CODE_SECONDS": 300,
    # Wrong tries a texted code survives before it dies.
    "PHONE_CODE_MAX_TRIES": 5,
    # Codes texted to one number per hour (nobody floods a stranger's phone).
    "PHONE_CODE_SENDS_PER_PHONE_HOUR": 5,
    # Codes texted on behalf of one client address per hour, any numbers (nobody burns the SMS budget).
    "PHONE_CODE_SENDS_PER_CLIENT_HOUR": 20,
    # Driver accounts one client address may register per hour.
    "REGISTRATIONS_PER_CLIENT_HOUR": 10,
    # Touchpoints (consent proofs) older than this many months are dropped or anonymized by the retention job;
    # never fewer than 5 (the consent proofs' minimum).
    "TOUCHPOINT_RETENTION_MONTHS": 24,
    # What the retention job does to old touchpoints: "anonymize" (keep channel, kind, province, consent basis)
    # or "drop".
    "TOUCHPOINT_RETENTION_ACTION": "anonymize",
    # Items per page when a list request does not say.
    "PAGE_SIZE": 50,
    # Largest page a list request may ask for.
    "MAX_PAGE_SIZE": 500,
    # Map tile URL template for pages with maps; empty shows routes and points without a base map.
    "MAP_TILE_URL": "",
    # The OEM's GS1 company prefix, used to issue GTINs for part types that come without one.
    "GS1_COMPANY_PREFIX": "6901234",
    # Distinct cities a part may be scanned in before installation without looking cloned.
    "CLONE_MAX_CITIES": 3,
    # Wrong activation codes allowed per part per hour.
    "ACTIVATION_MAX_FAILURES": 5,
    # Reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto to trust (1 behind nginx, 0 when exposed).
    "PROXY_COUNT": 0,
    # Window for counting wrong activation codes (ACTIVATION_MAX_FAILURES per part), in seconds.
    "ACTIVATION_WINDOW_SECONDS": 3600,
    # Wrong activation codes allowed per client address within ACTIVATION_WINDOW_SECONDS (any part).
    "ACTIVATION_CLIENT_MAX_FAILURES": 30,
    # Largest batch one API request may commission (the CLI has no such limit).
    "COMMISSION_MAX_API": 100_000,
    # Most serials one custody event may carry; more is a 400, and an event applies all or none.
    "EVENT_MAX_PARTS": 10_000,
    # Ground speed between consecutive scans above which a code looks copied, in km/h.
    "CLONE_MAX_SPEED_KMH": 150,
    # Distance from every place the custody chain reached beyond which a scan looks out of region, in km.
    "CLONE_FAR_KM": 800,
    # How many of a part's most recent scans clone detection looks at.
    "CLONE_SCAN_HISTORY": 50,
    # Scans of a part after which position signals of anonymous scans change the public verdict by themselves.
    "CLONE_CORROBORATION_SCANS": 5,
    # PostgreSQL: the transaction recording a scan that raises no alert (or a counterfeit scan past its client's
    # alert budget) commits without waiting for the WAL flush: a database crash may lose the last fraction of a
    # second of such scans (up to 3 x wal_writer_delay), never half of one; custody events, commissioning,
    # alerts and everything else commit durably.
    "SCAN_ASYNC_COMMIT": True,
    # Months after which a scan's location is coarsened further or dropped (SCAN_LOCATION_AFTER); 0 keeps it.
    "SCAN_LOCATION_MONTHS": 12,
    # What happens to it then: "coarsen" (0.1 degree, about 10 km) or "drop" (coordinates and city; the
    # province stays for the OEM's statistics).
    "SCAN_LOCATION_AFTER": "coarsen",
    # PostgreSQL: months of scan and custody-event partitions the worker keeps ready ahead of the current one.
    "PARTITION_MONTHS_AHEAD": 3,
    # Problem reports accepted per client address per hour from scan pages.
    "REPORT_MAX_PER_HOUR": 10,
    # Counterfeit scans per client address per hour that raise alerts of their own; beyond it they are counted in
    # one "counterfeit_flood" alert for that address (a script trying random codes cannot bury the OEM's list).
    "COUNTERFEIT_ALERTS_PER_CLIENT_HOUR": 30,
    # Shops within this many km of a route get its kilometre marker and side; trucks snap to routes within it too.
    "NETWORK_SNAP_KM": 5,
    # Shops within this many metres of the road sit at a service area reachable from one carriageway only.
    "NETWORK_SERVICE_AREA_METRES": 500,
    # Largest k a nearest-shops search may ask for.
    "SEARCH_MAX_K": 50,
    # Largest distance (km) a nearest or shops-ahead search may look.
    "SEARCH_MAX_KM": 1500,
    # A booking must start at least this many minutes from now.
    "BOOKING_MIN_NOTICE_MINUTES": 60,
    # A booking may start at most this many days ahead.
    "BOOKING_WINDOW_DAYS": 30,
    # Drivers may cancel until this many minutes before the start.
    "BOOKING_CANCEL_CUTOFF_MINUTES": 120,
    # A driver may hold at most this many open (requested or confirmed) bookings at one shop on one day.
    "BOOKING_MAX_OPEN_PER_SHOP_DAY": 2,
    # Roadside requests are offered within these radii (km), one round each, before escalating to the OEM.
    "ASSISTANCE_RADII_KM": ["30", "80", "200"],
    # How many of the nearest open roadside shops each round offers the job to.
    "ASSISTANCE_OFFER_SHOPS": 5,
    # Seconds a round waits for an acceptance before the radius widens (or the OEM is alerted).
    "ASSISTANCE_TIMEOUT_SECONDS": 300,
    # Average road speed (km/h) used for the ETA shown to the driver.
    "ASSISTANCE_SPEED_KMH": 60,
    # Minutes a shop needs to set off, added to the driving time in the ETA.
    "ASSISTANCE_PREPARATION_MINUTES": 15,
    # Default coverage radius (km): a highway kilometre is covered when an eligible shop is this close.
    "COVERAGE_RADIUS_KM": 50,
    # Route stretches within this many km of an earlier route's are a shared corridor, counted once.
    "COVERAGE_CORRIDOR_KM": 3,
    # Days after a booking's completion during which its customer may review it.
    "REVIEW_WINDOW_DAYS": 30,
    # Days after the service during which the driver may add the one follow-up.
    "REVIEW_FOLLOW_UP_DAYS": 180,
    # Strength of the network prior in scores, in pseudo-reviews (a new shop starts at the network mean).
    "REVIEW_PRIOR_STRENGTH": 5.0,
    # Prior mean in stars used before the first certification evaluation has measured the network.
    "REVIEW_DEFAULT_PRIOR": 4.0,
    # Half-life of a review's weight in scores, in days.
    "REVIEW_HALF_LIFE_DAYS": 365.0,
    # Reviews by one driver of one shop that count within 30 days; later ones are flagged.
    "REVIEW_PAIR_CAP_PER_MONTH": 1,
    # Window, in hours, for review bursts beyond bay capacity and for bulk reviews at completion.
    "REVIEW_BURST_WINDOW_HOURS": 24,
    # Accounts reviewing one shop from one device that make an account cluster (all flagged).
    "REVIEW_CLUSTER_MIN_ACCOUNTS": 3,
    # A review written within this many minutes of completion is "at the counter"...
    "REVIEW_BULK_MINUTES": 10,
    # ...and this many of them for one shop within the burst window are flagged as bulk.
    "REVIEW_BULK_MIN_COUNT": 3,
    # Certification thresholds as JSON (docs/reviews.md); empty uses the published defaults.
    "CERTIFICATION_THRESHOLDS": "",
    # A plaque scanned farther than this many km from its shop shows a warning.
    "PLAQUE_NEAR_KM": 5.0,
    # Share of an SLA target after which the assignee is warned (service desk).
    "SERVICE_WARN_FRACTION": 0.75,
    # Share of an SLA target after which the OEM desk is told as well (breach itself is at 1.0).
    "SERVICE_OEM_ALERT_FRACTION": 1.5,
    # Working minutes allowed when no SLA policy matches a request: first response, next response, resolution.
    "SERVICE_DEFAULT_TARGETS": ["60", "240", "960"],
    # Days a satisfaction survey link stays open after a resolution.
    "SERVICE_SURVEY_DAYS": 14,
    # Requests from the same phone or VIN within this many hours are suggested for merging.
    "SERVICE_MERGE_WINDOW_HOURS": 72,
    # Largest photo accepted with a service request, in bytes.
    "SERVICE_PHOTO_MAX_BYTES": 3 * 1024 * 1024,
    # Community: accounts younger than this many days are held for review before their posts appear (先审后发).
    "COMMUNITY_NEW_ACCOUNT_DAYS": 7,
    # ...and so are accounts with fewer published posts than this, or with a post hidden in the last 90 days.
    "COMMUNITY_TRUSTED_POSTS": 3,
    # Hours within which a moderator must look at a report; the worker flags later ones to the OEM.
    "COMMUNITY_REPORT_HOURS": 24,
    # Keyword list (one term a line, # comments) whose matches hold a post for review; empty: the shipped list.
    "COMMUNITY_KEYWORDS_FILE": "",
    # IP-to-province table (CSV: network,province) for the IP属地 shown on posts; empty: the poster's truck's
    # province (drivers) or organization's (staff).
    "COMMUNITY_IP_PROVINCES_FILE": "",
    # Leads a salesperson may hold at once (their private pool), unless their membership says otherwise.
    "LEADS_CAP": 50,
    # Leads a salesperson may claim from a pool in one local day.
    "LEADS_DAILY_CLAIM_LIMIT": 20,
    # Hours after an assignment by which a follow-up must be logged, or the lead goes back to its pool.
    "LEADS_FIRST_FOLLOW_UP_HOURS": 24,
    # Days without a logged follow-up after which a held lead goes back to its pool.
    "LEADS_IDLE_DAYS": 15,
    # Hours during which the owner a lead was taken from may not claim it back.
    "LEADS_RECLAIM_COOLDOWN_HOURS": 12,
    # Periods of a working day (local time) in which leads are dispatched between stages.
    "LEADS_WORKING_HOURS": ["08:30-12:00", "13:30-18:00"],
    # The weekdays those periods apply to (China's holidays and make-up working days come from the calendar data).
    "LEADS_WORKING_DAYS": ["mon", "tue", "wed", "thu", "fri"],
    # Lowest grade a new lead must have to be dispatched to sales (A best, C lowest).
    "LEADS_QUALIFY_GRADE": "B",
    # Reasons a salesperson picks from when a lead is lost.
    "LEADS_LOST_REASONS": ["price", "bought_elsewhere", "no_need", "unreachable", "duplicate", "other"],
    # Kilometres a day above which an odometer reading is kept but flagged as doubtful.
    "MAINTENANCE_MAX_KM_PER_DAY": 1500,
    # Channels a maintenance reminder goes out on besides the in-app inbox (sms, wechat).
    "MAINTENANCE_REMINDER_CHANNELS": ["sms"],
    # Debug mode (never in production).
    "DEBUG": False,
    # Test mode: relaxes the SECRET_KEY requirement.
    "TESTING": False,
}


class ConfigError(ValueError):
    """A setting is missing or has a value Milepost cannot use."""


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{ENV_PREFIX}{name} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number, not {raw!r}") from exc
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}") from exc
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict:
    """Return DEFAULTS overlaid with MILEPOST_* environment variables and then explicit overrides."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        if ENV_PREFIX + name in environ:
            settings[name] = _coerce(name, environ[ENV_PREFIX + name], default)
    settings.update(overrides or {})
    return settings


def validate_settings(settings: dict) -> None:
    """Fail fast on settings that would only break later, at the worst moment."""
    if not settings["SECRET_KEY"] and not (settings["DEBUG"] or settings["TESTING"]):
        raise ConfigError(
            "MILEPOST_SECRET_KEY is required outside debug and testing (`milepost init` writes one "
            "into the instance folder)"
        )
    if not settings["PUBLIC_BASE_URL"].startswith(("http://", "https://")):
        raise ConfigError("MILEPOST_PUBLIC_BASE_URL must start with http:// or https://")
    if settings["DEFAULT_LOCALE"] not in settings["LOCALES"]:
        raise ConfigError("MILEPOST_DEFAULT_LOCALE must be one of MILEPOST_LOCALES")
    for name in (
        "PAGE_SIZE",
        "MAX_PAGE_SIZE",
        "TOKEN_HOURS",
        "SIGN_IN_HOURS",
        "MAX_CONTENT_LENGTH",
        "LOGIN_MAX_FAILURES",
        "LOGIN_MAX_CLIENT_FAILURES",
        "LOGIN_MAX_ACCOUNT_FAILURES",
        "LOGIN_MAX_GLOBAL_FAILURES",
        "LOGIN_WINDOW_SECONDS",
        "PHONE_CODE_SECONDS",
        "PHONE_CODE_MAX_TRIES",
        "PHONE_CODE_SENDS_PER_PHONE_HOUR",
        "PHONE_CODE_SENDS_PER_CLIENT_HOUR",
        "REGISTRATIONS_PER_CLIENT_HOUR",
    ):
        if int(settings[name]) <= 0:
            raise ConfigError(f"{ENV_PREFIX}{name} must be positive")
    if int(settings["TOUCHPOINT_RETENTION_MONTHS"]) < 5:
        raise ConfigError(f"{ENV_PREFIX}TOUCHPOINT_RETENTION_MONTHS keeps consent proofs at least 5 months")
    if settings["TOUCHPOINT_RETENTION_ACTION"] not in ("anonymize", "drop"):
        raise ConfigError(f"{ENV_PREFIX}TOUCHPOINT_RETENTION_ACTION must be anonymize or drop")
    if settings["SMS_BACKEND"] not in ("development", "aliyun"):
        raise ConfigError(f"{ENV_PREFIX}SMS_BACKEND must be development or aliyun")
    if settings["SMS_BACKEND"] == "aliyun":
        for name in (
            "SMS_ALIYUN_ACCESS_KEY_ID",
            "SMS_ALIYUN_ACCESS_KEY_SECRET",
            "SMS_ALIYUN_SIGN_NAME",
            "SMS_ALIYUN_TEMPLATE_CODE",
        ):
            if not settings[name]:
                raise ConfigError(f"{ENV_PREFIX}{name} is required when {ENV_PREFIX}SMS_BACKEND is aliyun")
    if bool(settings["WECHAT_APP_ID"]) != bool(settings["WECHAT_APP_SECRET"]):
        raise ConfigError(f"{ENV_PREFIX}WECHAT_APP_ID and {ENV_PREFIX}WECHAT_APP_SECRET go together")
    if any("=" not in str(item) for item in settings["WECHAT_TEMPLATES"]):
        raise ConfigError(f"{ENV_PREFIX}WECHAT_TEMPLATES lists kind=template_id pairs")
    if int(settings["PROXY_COUNT"]) < 0:
        raise ConfigError(f"{ENV_PREFIX}PROXY_COUNT cannot be negative")
    try:
        ZoneInfo(settings["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{ENV_PREFIX}TIMEZONE {settings['TIMEZONE']!r} is not a time zone name") from exc
    jobs_url = settings["JOBS_URL"]
    if jobs_url and not jobs_url.startswith(("sqlite:///", "redis://", "rediss://", "unix://", "memory://")):
        raise ConfigError(f"{ENV_PREFIX}JOBS_URL must be empty, sqlite:///path, redis://host:port/db or memory://")
    url = settings["DATABASE_URL"]
    if url and not url.startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"{ENV_PREFIX}DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
    replica = settings["DATABASE_REPLICA_URL"]
    if replica and not replica.startswith("postgresql"):
        raise ConfigError(f"{ENV_PREFIX}DATABASE_REPLICA_URL must be a postgresql+psycopg:// URL")


def instance_path() -> Path:
    """Return the instance folder (database, secrets): MILEPOST_INSTANCE_PATH or ./instance."""
    return Path(os.environ.get(ENV_PREFIX + "INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def read_instance_secrets(instance_path: str | Path) -> dict[str, str]:
    """Return the secrets `milepost init` wrote into the instance folder, if any."""
    path = Path(instance_path) / "secrets.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())
