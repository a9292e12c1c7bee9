"""What the leads domain holds about a person, for app.crm.personal_data.

Erased, a person's leads are closed as lost ("erased") through the transition log, so the funnel's history and
its counts stay right; the number, the owner and the salespeople's notes about the person go.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.crm.personal_data import ERASED_PHONE, Person, record_to_dict, register_eraser, register_exporter
from leads.models import OPEN_STAGES, Lead, LeadActivity, LeadTransition, Stage
from leads.stages import _move_stage

ERASED = "erased"


def _leads_of(session: Session, person: Person) -> list[Lead]:
    mine = or_(Lead.customer_id == person.customer_id, Lead.phone == person.phone)
    return list(session.scalars(select(Lead).where(mine).order_by(Lead.id)))


def export_leads(session: Session, person: Person) -> dict:
    """Return the person's leads and what was logged on them."""
    leads = _leads_of(session, person)
    ids = [lead.id for lead in leads]
    activities = session.scalars(select(LeadActivity).where(LeadActivity.lead_id.in_(ids)).order_by(LeadActivity.id))
    return {
        "leads": [record_to_dict(lead, without=("reclaim_blocked_user_id",)) for lead in leads],
        "lead_activities": [record_to_dict(row, without=("user_id",)) for row in activities],
    }


def erase_leads(session: Session, person: Person) -> dict[str, int]:
    """Close the person's open leads as lost (erased) and anonymize every lead of theirs."""
    leads = _leads_of(session, person)
    closed = 0
    for lead in leads:
        if lead.stage in OPEN_STAGES:
            lead.lost_reason = ERASED
            _move_stage(session, None, lead, Stage.LOST, ERASED, person.now)
            closed += 1
        lead.phone = ERASED_PHONE.format(id=lead.id)
        lead.owner_id = lead.reclaim_blocked_user_id = None
        lead.assigned_at = lead.first_follow_up_due_at = lead.recycle_at = lead.dispatch_due_at = None
        lead.city = None
    ids = [lead.id for lead in leads]
    for activity in session.scalars(select(LeadActivity).where(LeadActivity.lead_id.in_(ids))):
        activity.body = ""
    for transition in session.scalars(select(LeadTransition).where(LeadTransition.lead_id.in_(ids))):
        transition.note = person.scrub(transition.note)
    return {"leads_closed": closed, "leads": len(leads)}


register_exporter("leads", export_leads)
register_eraser("leads", erase_leads)
