"""Labels: QR code PNGs with a manifest, and a print-ready sheet with a scratch-off activation area."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

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
    part_name_zh: str = ""
    part_name_en: str = ""


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
        part_type = batch.part_type
        labels.append(
            Label(
                part.serial,
                part_type.part_number,
                url,
                format_activation_code(code),
                part_type.name_zh,
                part_type.name_en,
            )
        )
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


def label_svg(label: Label, lot: str) -> str:
    """Return one printable 62x40 mm label as SVG: QR code, serial, part number and name, lot, activation code."""
    qr = _qr(label.url)
    modules = qr.modules_count + 2 * qr.border
    cells = "".join(
        f'<rect x="{column + qr.border}" y="{row + qr.border}" width="1" height="1"/>'
        for row, line in enumerate(qr.get_matrix()[qr.border : qr.border + qr.modules_count])
        for column, dark in enumerate(line[qr.border : qr.border + qr.modules_count])
        if dark
    )
    lines = [
        ("bold", f"SN {label.serial}"),
        ("", f"P/N {label.part_number}"),
        ("", label.part_name_zh),
        ("", label.part_name_en),
        ("", f"LOT {lot}"),
        ("", "扫码验真 Scan to verify"),
    ]
    bold = ' font-weight="700"'
    text = "".join(
        f'<text x="30" y="{5 + 4 * index}" font-size="3"{bold if style else ""}>{escape(value)}</text>'
        for index, (style, value) in enumerate(lines)
        if value
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="62mm" height="40mm" viewBox="0 0 62 40">'
        f'<svg x="1" y="1" width="27" height="27" viewBox="0 0 {modules} {modules}">'
        f'<rect width="{modules}" height="{modules}" fill="#fff"/><g fill="#000">{cells}</g></svg>'
        f'<g font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, Arial, sans-serif">{text}</g>'
        '<rect x="1" y="30" width="60" height="9" fill="none" stroke="#000" stroke-width="0.4"/>'
        '<text x="2" y="33.5" font-size="2.2">安装激活码（刮开） Activation code (scratch off)</text>'
        f'<text x="2" y="37.8" font-size="3.6" font-family="monospace" font-weight="700" data-area="scratch-off">'
        f"{escape(label.activation_code)}</text></svg>"
    )


def labels_zip(labels: list[Label], lot: str = "") -> bytes:
    """Return a zip with, per label and named by serial, a QR code PNG and a printable SVG label with the part's
    name, and manifest.csv (serial, url, activation code, part number and names)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = io.StringIO()
        writer = csv.writer(manifest)
        writer.writerow(["serial", "url", "activation_code", "part_number", "part_name_zh", "part_name_en"])
        for label in labels:
            archive.writestr(f"{label.serial}.png", qr_png(label.url))
            archive.writestr(f"{label.serial}.svg", label_svg(label, lot))
            writer.writerow(
                [
                    label.serial,
                    label.url,
                    label.activation_code,
                    label.part_number,
                    label.part_name_zh,
                    label.part_name_en,
                ]
            )
        archive.writestr("manifest.csv", manifest.getvalue())
    return buffer.getvalue()
