"""Photos sent with a request: checked to be a real image of a sane size, re-encoded (which drops EXIF and its
GPS position) and shrunk before they are stored."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session

from app.errors import InvalidInput, PayloadTooLarge
from service.models import Attachment, ServiceRequest

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_PIXELS = 40_000_000
LONGEST_SIDE = 1600
MAX_PHOTOS = 3


def store_photo(session: Session, request: ServiceRequest, data: bytes, max_bytes: int) -> Attachment:
    """Validate and store one photo for `request`."""
    if len(data) > max_bytes:
        raise PayloadTooLarge("the photo is larger than %(limit)s MB", field="photo", limit=max_bytes // 2**20)
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused below by its pixel count; Pillow's warning would be an error here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise InvalidInput("send a JPEG, PNG or WebP photo", field="photo")
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput("the photo has too many pixels", field="photo")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("the file is not a photo", field="photo") from None
    image = image.convert("RGB")
    image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=85)
    attachment = Attachment(
        request_id=request.id,
        content_type="image/jpeg",
        data=output.getvalue(),
        width=image.width,
        height=image.height,
    )
    session.add(attachment)
    session.flush()
    return attachment
