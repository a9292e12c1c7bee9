"""Fault entries: the shipped set, the importer for licensed tables, and the lookup that falls back.

A lookup takes the most specific entry that fits the code and the truck (its model, engine family and emission
stage from `ModelProfile`), then the entry for the code and FMI, then the code alone; the FMI meaning is always
given, and with no entry at all the verdict is `unknown`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.errors import InvalidInput
from knowledge.codes import BLINK, J1939, OBD2, SCHEMES, FaultCode, parse_code
from knowledge.fmi import FmiMeaning, fmi_meaning
from knowledge.models import EntrySource, FaultEntry, MayContinue, ModelProfile, Severity
from knowledge.search import fold, query_terms, rank, text_matches
from network.models import Service

SHIPPED_FILE = Path(__file__).resolve().parent / "data" / "entries.csv"
COLUMNS = (
    "scheme",
    "code",
    "fmi",
    "source_address",
    "engine_family",
    "model",
    "emission_stage",
    "title_zh",
    "title_en",
    "text_zh",
    "text_en",
    "severity",
    "may_continue",
    "service",
    "part_categories",
    "symptoms",
    "source",
)
REQUIRED = ("scheme", "code", "title_zh", "title_en", "text_zh", "text_en", "severity", "may_continue")
MAX_IMPORT_BYTES = 20_000_000
MAX_IMPORT_ROWS = 200_000
UNKNOWN = "unknown"
DEFAULT_SERVICE = Service.REPAIR.value
ANY = "*"


@dataclass(frozen=True)
class Applicability:
    """What a truck is, for picking entries: its model, engine family and emission stage (None: unknown)."""

    model: str | None = None
    engine_family: str | None = None
    emission_stage: str | None = None


NOWHERE = Applicability()


def entry_key(
    scheme: str,
    code: str,
    fmi: int | None,
    source_address: int | None = None,
    applicability: Applicability = NOWHERE,
) -> str:
    """Return the unique key of an entry; `*` stands for "any"."""
    parts = (
        scheme,
        code,
        fmi,
        source_address,
        applicability.engine_family,
        applicability.model,
        applicability.emission_stage,
    )
    return "|".join(ANY if part is None or part == "" else str(part).lower() for part in parts)


def _optional_int(value: str, name: str, maximum: int) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 6 or int(value) > maximum:
        raise InvalidInput(f"{name} is a number from 0 to {maximum}", field=name)
    return int(value)


def _entry_fields(row: dict[str, str], allowed_sources: tuple[str, ...]) -> dict:
    """Check one table row and return the FaultEntry fields (InvalidInput names the column)."""
    for name in REQUIRED:
        if not row.get(name):
            raise InvalidInput(f"{name} is required", field=name)
    scheme = row["scheme"].lower()
    if scheme not in SCHEMES:
        raise InvalidInput(f"scheme is one of {', '.join(SCHEMES)}", field="scheme")
    fmi = _optional_int(row.get("fmi", ""), "fmi", 31)
    # The code goes through the same parser as a driver's input, so imported keys match what drivers type.
    text = {J1939: f"SPN {row['code']}", OBD2: row["code"], BLINK: f"闪码 {row['code']}"}[scheme]
    code = parse_code(text)
    if code.scheme != scheme:
        raise InvalidInput(f"code is not a {scheme} code", field="code")
    if fmi is not None and scheme != J1939:
        raise InvalidInput("only J1939 codes have an FMI", field="fmi")
    if row["severity"] not in Severity.__members__.values():
        raise InvalidInput(f"severity is one of {', '.join(Severity)}", field="severity")
    if row["may_continue"] not in MayContinue.__members__.values():
        raise InvalidInput(f"may_continue is one of {', '.join(MayContinue)}", field="may_continue")
    service = row.get("service") or None
    if service is not None and service not in Service.__members__.values():
        raise InvalidInput(f"service is one of {', '.join(Service)}", field="service")
    source = row.get("source") or allowed_sources[0]
    if source not in allowed_sources:
        raise InvalidInput(f"source is one of {', '.join(allowed_sources)}", field="source")
    for name in ("title_zh", "title_en"):
        if len(row[name]) > 200:
            raise InvalidInput(f"{name} has at most 200 characters", field=name)
    for name in ("text_zh", "text_en", "symptoms"):
        if len(row.get(name) or "") > 2000:
            raise InvalidInput(f"{name} has at most 2000 characters", field=name)
    applicability = Applicability(
        model=(row.get("model") or None),
        engine_family=(row.get("engine_family") or "").lower() or None,
        emission_stage=(row.get("emission_stage") or "").lower() or None,
    )
    source_address = _optional_int(row.get("source_address", ""), "source_address", 253)
    parts = [part.strip() for part in (row.get("part_categories") or "").split(";") if part.strip()]
    return {
        "key": entry_key(scheme, code.code, fmi, source_address, applicability),
        "scheme": scheme,
        "code": code.code,
        "fmi": fmi,
        "source_address": source_address,
        "engine_family": applicability.engine_family,
        "model": applicability.model,
        "emission_stage": applicability.emission_stage,
        "title": {"zh": row["title_zh"], "en": row["title_en"]},
        "driver_text": {"zh": row["text_zh"], "en": row["text_en"]},
        "severity": row["severity"],
        "may_continue": row["may_continue"],
        "service": service,
        "part_categories": parts,
        "search_text": fold(
            FaultCode(scheme, code.code, fmi).label,
            row["title_zh"],
            row["title_en"],
            row["text_zh"],
            row["text_en"],
            row.get("symptoms"),
        ),
        "source": source,
    }


def read_entry_rows(data: bytes, allowed_sources: tuple[str, ...]) -> list[dict]:
    """Parse a CSV table of entries; raise one InvalidInput listing every bad row (line numbers from 2)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", field="file") from None
    if "\x00" in text:
        raise InvalidInput("the file contains NUL characters", field="file")
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"missing columns: {', '.join(missing)}", field="file")
    rows, errors, seen = [], [], {}
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_IMPORT_ROWS:
            raise InvalidInput(f"the file has more than {MAX_IMPORT_ROWS} rows", field="file")
        clean = {name: (value or "").strip() for name, value in row.items() if name is not None}
        try:
            fields = _entry_fields(clean, allowed_sources)
        except InvalidInput as error:
            errors.append({"row": line, "field": error.field, "message": error.message})
            continue
        if fields["key"] in seen:
            errors.append({"row": line, "field": "code", "message": f"the same entry as row {seen[fields['key']]}"})
            continue
        seen[fields["key"]] = line
        rows.append(fields)
    if errors:
        raise InvalidInput(f"{len(errors)} rows cannot be imported; nothing was imported", field="file", errors=errors)
    return rows


def _upsert(session: Session, rows: list[dict]) -> tuple[int, int]:
    existing = {
        entry.key: entry
        for chunk in range(0, len(rows), 500)
        for entry in session.scalars(
            select(FaultEntry).where(FaultEntry.key.in_([row["key"] for row in rows[chunk : chunk + 500]]))
        )
    }
    added = updated = 0
    for row in rows:
        entry = existing.get(row["key"])
        if entry is None:
            session.add(FaultEntry(**row))
            added += 1
        elif entry.source == EntrySource.MILEPOST or row["source"] != EntrySource.MILEPOST:
            # An OEM's licensed wording replaces ours for the same key; our shipped set never overwrites theirs.
            for name, value in row.items():
                setattr(entry, name, value)
            updated += 1
    session.flush()
    return added, updated


def install_shipped_entries(session: Session) -> tuple[int, int]:
    """Load (or refresh) the entries Milepost ships; return (added, updated). Imported entries are kept."""
    return _upsert(session, read_entry_rows(SHIPPED_FILE.read_bytes(), (EntrySource.MILEPOST,)))


def import_entries(session: Session, data: bytes, source: str = EntrySource.OEM_IMPORT) -> tuple[int, int]:
    """Import a licensed CSV table all or nothing; return (added, updated). Rows may not claim to be ours."""
    if source not in (EntrySource.OEM_IMPORT, EntrySource.DA_IMPORT):
        raise InvalidInput("imported tables are oem_import or da_import", field="source")
    added, updated = _upsert(session, read_entry_rows(data, (source,)))
    # Run from the command line: the system is the actor, as for the other imports.
    record_activity(session, None, "knowledge.entries_imported", "fault_entries", source, added=added, updated=updated)
    return added, updated


def applicability_of(session: Session, vehicle: Vehicle | None) -> Applicability:
    """Return what the vehicle is (model, and its engine family and emission stage from the model's profile)."""
    if vehicle is None:
        return NOWHERE
    profile = session.scalar(select(ModelProfile).where(ModelProfile.model == vehicle.model))
    if profile is None:
        return Applicability(model=vehicle.model)
    return Applicability(vehicle.model, profile.engine_family, profile.emission_stage)


def set_model_profile(
    session: Session, model: str, engine_family: str | None, emission_stage: str | None
) -> ModelProfile:
    """Record (or change) a vehicle model's engine family and emission stage."""
    model = (model or "").strip()
    if not model or len(model) > 100:
        raise InvalidInput("a model name of 1-100 characters is required", field="model")
    profile = session.scalar(select(ModelProfile).where(ModelProfile.model == model))
    if profile is None:
        profile = ModelProfile(model=model)
        session.add(profile)
    profile.engine_family = (engine_family or "").strip().lower() or None
    profile.emission_stage = (emission_stage or "").strip().lower() or None
    session.flush()
    return profile


def _specificity(entry: FaultEntry) -> tuple[int, int, int]:
    # FMI first (it decides how bad the failure is), then the ECU, then how closely the truck is described.
    described = 4 * (entry.model is not None) + 2 * (entry.engine_family is not None)
    described += entry.emission_stage is not None
    return (entry.fmi is not None, entry.source_address is not None, described)


def _fits(value: str | None, wanted: str | None) -> bool:
    return value is None or (wanted is not None and value.lower() == wanted.lower())


@dataclass(frozen=True)
class Lookup:
    """What a code means for this truck: the entry chosen (or none), how it was found, and the FMI meaning."""

    code: FaultCode
    entry: FaultEntry | None
    fmi: FmiMeaning | None

    @property
    def verdict(self) -> str:
        """Return the entry's severity, or `unknown` when no entry fits."""
        return self.entry.severity if self.entry is not None else UNKNOWN

    @property
    def matched(self) -> str:
        """Return how specific the match is: specific, code_fmi, code or none."""
        if self.entry is None:
            return "none"
        if _specificity(self.entry)[1:] != (0, 0):
            return "specific"
        return "code_fmi" if self.entry.fmi is not None else "code"

    @property
    def service(self) -> str:
        """Return the shop service needed: the entry's, else general repair (an unknown code still needs a shop)."""
        if self.entry is not None and self.entry.service:
            return self.entry.service
        return DEFAULT_SERVICE

    def to_dict(self, language: str = "zh") -> dict:
        """Return the lookup as JSON, texts in `language`."""
        entry = self.entry
        return {
            "code": self.code.to_dict(),
            "verdict": self.verdict,
            "matched": self.matched,
            "title": entry.title.get(language) if entry else None,
            "driver_text": entry.driver_text.get(language) if entry else None,
            "may_continue": entry.may_continue if entry else None,
            "service": self.service,
            "part_categories": list(entry.part_categories) if entry else [],
            "source": entry.source if entry else None,
            "fmi_meaning": self.fmi.text(language) if self.fmi else None,
            "applies_to": {
                "model": entry.model,
                "engine_family": entry.engine_family,
                "emission_stage": entry.emission_stage,
                "source_address": entry.source_address,
            }
            if entry
            else None,
        }


def lookup_code(session: Session, code: FaultCode, applicability: Applicability = NOWHERE) -> Lookup:
    """Find the most specific entry for `code` on a truck like `applicability`, falling back as the module says."""
    statement = select(FaultEntry).where(FaultEntry.scheme == code.scheme, FaultEntry.code == code.code)
    statement = statement.where(
        FaultEntry.fmi.is_(None) if code.fmi is None else or_(FaultEntry.fmi.is_(None), FaultEntry.fmi == code.fmi)
    )
    candidates = [
        entry
        for entry in session.scalars(statement)
        if (entry.source_address is None or entry.source_address == code.source_address)
        and _fits(entry.model, applicability.model)
        and _fits(entry.engine_family, applicability.engine_family)
        and _fits(entry.emission_stage, applicability.emission_stage)
    ]
    best = max(candidates, key=lambda entry: (_specificity(entry), -entry.id), default=None)
    return Lookup(code, best, fmi_meaning(code.fmi) if code.scheme == J1939 else None)


def lookup_text(session: Session, text: str, vehicle: Vehicle | None = None) -> Lookup:
    """Parse a typed code and look it up for `vehicle` (InvalidInput names the bad part)."""
    return lookup_code(session, parse_code(text), applicability_of(session, vehicle))


def search_entries(session: Session, query: str, limit: int = 20) -> list[FaultEntry]:
    """Return the entries whose code, titles, texts or symptoms contain every term of `query`, best first."""
    terms = query_terms(query)
    found = list(
        session.scalars(
            select(FaultEntry)
            .where(text_matches(FaultEntry.search_text, terms))
            .order_by(FaultEntry.scheme, FaultEntry.code, FaultEntry.fmi.is_not(None), FaultEntry.fmi, FaultEntry.id)
            .limit(limit * 5)
        )
    )
    found.sort(key=lambda entry: rank(" ".join(entry.title.values()), terms))
    return found[:limit]


def entry_to_dict(entry: FaultEntry, language: str = "zh") -> dict:
    """Render an entry for lists and search results."""
    code = FaultCode(entry.scheme, entry.code, entry.fmi)
    return {
        "code": code.short,
        "label": code.label,
        "title": entry.title.get(language),
        "driver_text": entry.driver_text.get(language),
        "severity": entry.severity,
        "may_continue": entry.may_continue,
        "service": entry.service,
        "source": entry.source,
    }
