"""Labels: QR code PNGs with a manifest, and a print-ready sheet with a scratch-off activation area."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden
from app.security import Role, User
from app.signing import KeyRing
from traceability.codes import (
    activation_code_for,
    activation_kid,
    build_part_url,
    format_activation_code,
    is_activation_code,
)
from traceability.models import Batch, Part

LABELS_PER_PAGE = 2000


@dataclass(frozen=True)
class Label:
    """What one printed label carries."""

    serial: str
    part_number: str
    url: str
    activation_code: str


def ensure_may_print(actor: User, batch: Batch) -> None:
    """Only the staff of the factory that made a batch may obtain its activation codes (not even the OEM)."""
    if actor.role != Role.FACTORY_STAFF or actor.organization_id != batch.factory_id:
        raise Forbidden("labels with activation codes are for the staff of the factory that made the batch")


def list_labels(session: Session, ring: KeyRing, batch: Batch, base_url: str, page: int) -> list[Label]:
    """Return one page of a batch's labels, re-deriving each activation code and checking it against its hash."""
    statement = (
        select(Part)
        .where(Part.batch_id == batch.id)
        .order_by(Part.serial)
        .limit(LABELS_PER_PAGE)
        .offset((page - 1) * LABELS_PER_PAGE)
    )
    labels = []
    for part in session.scalars(statement):
        kid = activation_kid(part.activation_hash)
        code = activation_code_for(ring, part.gtin, part.serial, kid) if ring.has_key(kid) else ""
        if not code or not is_activation_code(ring, part.gtin, part.serial, code, part.activation_hash):
            # The key the codes were derived under was retired from the ring; re-printing needs it back.
            raise Conflict("this batch was commissioned under an earlier signing key; its codes cannot be re-derived")
        url = build_part_url(base_url, part.gtin, part.serial, part.tag)
        labels.append(Label(part.serial, batch.part_type.part_number, url, format_activation_code(code)))
    return labels


def _qr(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_png(url: str) -> bytes:
    """Return a QR code PNG (error correction M) that encodes exactly `url`."""
    buffer = io.BytesIO()
    _qr(url).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(url: str) -> str:
    """Return a QR code as an inline SVG element for print sheets."""
    image = _qr(url).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def labels_zip(labels: list[Label]) -> bytes:
    """Return a zip with one PNG per label, named by serial, and manifest.csv (serial, url, activation code)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = io.StringIO()
        writer = csv.writer(manifest)
        writer.writerow(["serial", "url", "activation_code"])
        for label in labels:
            archive.writestr(f"{label.serial}.png", qr_png(label.url))
            writer.writerow([label.serial, label.url, label.activation_code])
        archive.writestr("manifest.csv", manifest.getvalue())
    return buffer.getvalue()
