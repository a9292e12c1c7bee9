"""What the leads views share: the settings of the running app and the JSON form of a lead."""

from __future__ import annotations

from flask import current_app

from app.phones import mask_phone
from leads.models import Lead
from leads.settings import LeadsSettings, leads_settings


def current_settings() -> LeadsSettings:
    """Return the leads settings of the running app."""
    return leads_settings(current_app.config)


def lead_to_dict(lead: Lead) -> dict:
    """Render a lead for staff: the phone masked (a call is made from the lead's page, not copied out)."""
    return {
        "id": lead.id,
        "phone": mask_phone(lead.phone),
        "vin": lead.vin,
        "channel": lead.channel,
        "province": lead.province,
        "interest": lead.interest,
        "grade": lead.grade,
        "stage": lead.stage,
        "pool": lead.pool.code,
        "owned": lead.owner_id is not None,
        "first_follow_up_due_at": lead.first_follow_up_due_at.isoformat() if lead.first_follow_up_due_at else None,
        "recycle_at": lead.recycle_at.isoformat() if lead.recycle_at else None,
        "consent_basis": lead.consent_basis,
        "consent_topic": lead.consent_topic,
        "created_at": lead.created_at.isoformat(),
    }
