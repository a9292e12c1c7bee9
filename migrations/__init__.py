"""Alembic environment and dated revisions of the Milepost schema."""
