"""Certification reasons in words: the reason codes the state machine writes, as sentences in the page's language.

`reviews.tiers` writes each reason as a short code with its figures ("below certified: genuine_part_ratio 0.0 <
0.6"); the code is what is stored and what the API keeps. This module reads that code back and says it in the
request's language ("未达到认证标准：正品率 0% 低于 60%"). A reason it does not know (an OEM's written override)
is shown as it was written.
"""

from __future__ import annotations

import re

from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

TIER_LABELS = {
    "none": _l("Not certified"),
    "candidate": _l("Candidate"),
    "certified": _l("Certified"),
    "gold": _l("Gold"),
    "watch": _l("On watch"),
    "probation": _l("Probation"),
    "suspended": _l("Suspended"),
    "revoked": _l("Revoked"),
}
REISSUE_REASON_LABELS = {
    "lost": _l("The plaque is lost"),
    "damaged": _l("The plaque is damaged"),
    "moved": _l("The shop has moved"),
    "name_changed": _l("The shop's name has changed"),
}
KPI_LABELS = {
    "rating": _l("Rating"),
    "rating_count": _l("Number of ratings"),
    "completion_rate": _l("Booking completion rate"),
    "rejection_rate": _l("Booking rejection rate"),
    "no_show_rate": _l("No-show rate"),
    "roadside_acceptance_rate": _l("Roadside acceptance rate"),
    "roadside_response_minutes": _l("Roadside response time"),
    "genuine_part_ratio": _l("Genuine-part ratio"),
}
RATE_KPIS = frozenset(
    {"completion_rate", "rejection_rate", "no_show_rate", "roadside_acceptance_rate", "genuine_part_ratio"}
)
# Each known opening of a reason, with the sentence that says it; "%(rest)s" is the list of unmet criteria.
OPENINGS = {
    "below candidate": _l("Below the candidate level: %(rest)s"),
    "no longer meets candidate": _l("No longer meets the candidate level: %(rest)s"),
    "below certified": _l("Below the certified level: %(rest)s"),
    "still below certified": _l("Still below the certified level: %(rest)s"),
    "cure deadline passed and still below certified": _l(
        "The cure deadline has passed and the shop is still below the certified level: %(rest)s"
    ),
    "on probation until the cure deadline": _l("On probation until the cure deadline: %(rest)s"),
    "integrity breach": _l("Integrity breach: %(rest)s"),
    "meets certified; below gold": _l("Meets the certified level; below gold: %(rest)s"),
}
WHOLE = {
    "meets the candidate thresholds": _l("Meets the candidate level."),
    "meets the certified thresholds": _l("Meets the certified level."),
    "meets the certified thresholds again": _l("Meets the certified level again."),
    "meets the gold thresholds": _l("Meets the gold level."),
    "meets certified": _l("Meets the certified level."),
}
_CRITERION = re.compile(r"^(?P<kpi>[a-z_]+) (?P<value>-?[\d.]+) (?P<sign>[<>]) (?P<threshold>-?[\d.]+)$")
_COUNTERFEIT = re.compile(r"^(?P<count>\d+) counterfeit incident\(s\) linked to the shop$")
_FLAGGED = re.compile(r"^(?P<count>\d+) reviews flagged as manipulated$")
_UNTIL_OVERRIDE = re.compile(r"^(?P<tier>[a-z]+) until the OEM overrides$")


def tier_text(tier: str | None) -> str:
    """Return a tier's name in the page's language."""
    return str(TIER_LABELS.get(str(tier or "none"), tier or ""))


def reissue_reason_text(reason: str) -> str:
    """Return why a shop asked for a new plaque, in the page's language."""
    return str(REISSUE_REASON_LABELS.get(reason, reason))


def tier_in_both_languages(tier: str | None) -> tuple[str, str]:
    """Return a tier's name in Chinese and in English, as a plaque prints it whatever the page's language."""
    with force_locale("zh"):
        chinese = tier_text(tier)
    with force_locale("en"):
        english = tier_text(tier)
    return chinese, english


def figure_text(kpi: str, value: float) -> str:
    """Return one KPI figure as people read it: rates in per cent, the rating with one decimal, minutes, counts."""
    if kpi in RATE_KPIS:
        return f"{value * 100:.0f}%"
    if kpi == "rating":
        return f"{value:.1f}"
    if kpi == "roadside_response_minutes":
        return _("%(minutes)s min", minutes=f"{value:g}")
    return f"{value:g}"


def criterion_text(criterion: str) -> str | None:
    """Return one unmet criterion ("genuine_part_ratio 0.0 < 0.6") in words, or None when it is not one."""
    found = _CRITERION.match(criterion)
    if found is not None and found["kpi"] in KPI_LABELS:
        kpi = found["kpi"]
        words = {
            "kpi": str(KPI_LABELS[kpi]),
            "value": figure_text(kpi, float(found["value"])),
            "threshold": figure_text(kpi, float(found["threshold"])),
        }
        if found["sign"] == "<":
            return _("%(kpi)s %(value)s is below %(threshold)s", **words)
        return _("%(kpi)s %(value)s is above %(threshold)s", **words)
    if found := _COUNTERFEIT.match(criterion):
        return _("%(count)s counterfeit incidents linked to the shop", count=found["count"])
    if found := _FLAGGED.match(criterion):
        return _("%(count)s reviews flagged as manipulated", count=found["count"])
    return None


def _list_text(parts: list[str]) -> str:
    return ("；" if get_locale().language == "zh" else "; ").join(parts)


def reason_text(reason: str | None) -> str:
    """Return a certification reason code in the page's language; an unknown reason comes back as written."""
    reason = (reason or "").strip()
    if reason in WHOLE:
        return str(WHOLE[reason])
    if (found := _UNTIL_OVERRIDE.match(reason)) and found["tier"] in TIER_LABELS:
        return _("%(tier)s until the OEM decides otherwise.", tier=tier_text(found["tier"]))
    # The longest opening first: "meets certified; below gold" before anything shorter.
    for opening in sorted(OPENINGS, key=len, reverse=True):
        if reason.startswith(opening + ": "):
            criteria = [criterion_text(part.strip()) for part in reason[len(opening) + 2 :].split(";")]
            if all(criteria):
                return str(OPENINGS[opening]) % {"rest": _list_text(criteria)}
    return reason


def with_reason_texts(body: dict) -> dict:
    """Return a certification record (summary or board row) with `reason_text` beside each reason code."""
    pending = body.get("pending")
    if pending:
        body["pending"] = {**pending, "reason_text": reason_text(pending["reason"])}
    if "history" in body:
        body["history"] = [{**change, "reason_text": reason_text(change["reason"])} for change in body["history"]]
    return body
