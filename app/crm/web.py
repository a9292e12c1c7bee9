"""What the CRM's JSON API and pages share: a person's data copy as a file to save."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext

from app.crm.personal_data import export_file


def personal_data_download(export: dict, file_format: str) -> Response:
    """Return a person's data copy as a download: JSON, or a zip with a summary in the reader's language."""
    content, name, media_type = export_file(export, file_format, gettext)
    return Response(content, mimetype=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})
