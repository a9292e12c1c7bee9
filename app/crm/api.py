"""CRM JSON API: organizations, customers, vehicles, driver registration."""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask_babel import gettext
from pydantic import AwareDatetime, Field, StrictFloat, StrictInt

from app.crm import activity, customers, notifications, organizations, personal_data, vehicles
from app.crm.models import Customer, CustomerKind, OrganizationKind, VehicleTransfer
from app.crm.relations import is_related_customer
from app.crm.web import personal_data_download
from app.crm.wechat import record_grant
from app.db import utcnow
from app.errors import Forbidden, InvalidInput, NotFound
from app.security import Role, is_oem
from app.web.context import client_address, db_session, phone_code_rules, report_session, settings
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, Schema
from app.web.pagination import PageQuery, paginate

api = ApiBlueprint("crm_api", __name__, tag="CRM")

CUSTOMER_WRITERS = (Role.OEM_ADMIN, Role.DEALER_STAFF, Role.SHOP_STAFF)


class OrganizationIn(Schema):
    kind: OrganizationKind
    code: str = Field(min_length=2, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    province: str | None = Field(None, description="English or Chinese name, or the plate character")
    city: str | None = Field(None, max_length=100)
    lat: StrictFloat | StrictInt | str | None = Field(
        None, description="WGS84 degrees, decimal or degrees-minutes-seconds"
    )
    lon: StrictFloat | StrictInt | str | None = Field(
        None, description="WGS84 degrees, decimal or degrees-minutes-seconds"
    )


class OrganizationQuery(PageQuery):
    kind: OrganizationKind | None = None
    province: str | None = None
    q: str | None = Field(None, max_length=100, description="name or code contains")


class CustomerIn(Schema):
    kind: CustomerKind = CustomerKind.DRIVER
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(description="Chinese mobile number")
    fleet: str | None = Field(None, description="fleet organization code")


class RegisterIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(max_length=40)
    password: str = Field(min_length=8, max_length=200)
    code: str = Field(max_length=20, description="the one-time code texted by POST /auth/phone-codes")


class VehicleIn(Schema):
    vin: str
    model: str = Field(min_length=1, max_length=100)
    owner_id: int | None = Field(None, description="customer id; drivers register vehicles for themselves")
    engine_serial: str | None = Field(None, max_length=40)
    plate: str | None = None
    province: str | None = None
    fleet: str | None = None
    dealer: str | None = None
    sale_date: date | None = None
    odometer_km: int | None = Field(None, ge=0)


class TransferIn(Schema):
    to_customer: int = Field(description="id of the new owner")
    note: str = Field("", max_length=500)


class VehicleQuery(PageQuery):
    q: str | None = Field(None, description="VIN (or its start), plate or owner phone")


def organization_to_dict(organization) -> dict:
    return {
        "code": organization.code,
        "kind": organization.kind,
        "name": organization.name,
        "province": organization.province,
        "city": organization.city,
        "lat": organization.lat,
        "lon": organization.lon,
    }


@api.endpoint(
    "POST", "/organizations", access=[Role.OEM_ADMIN], body=OrganizationIn, status=201, summary="Create an organization"
)
def create_organization(actor, body: OrganizationIn):
    organization = organizations.create_organization(db_session(), **body.model_dump())
    return organization_to_dict(organization), 201


@api.endpoint("GET", "/organizations", access=SIGNED_IN, query=OrganizationQuery, summary="List organizations")
def list_organizations(actor, query: OrganizationQuery):
    statement = organizations.select_organizations(query.kind, query.province, query.q)
    return paginate(db_session(), statement, query, organization_to_dict)


@api.endpoint("GET", "/organizations/<code>", access=SIGNED_IN, summary="Show an organization")
def show_organization(actor, code: str):
    return organization_to_dict(organizations.get_organization(db_session(), code, field="code"))


@api.endpoint(
    "POST",
    "/auth/register",
    access=PUBLIC,
    body=RegisterIn,
    status=201,
    summary="Register as a driver with phone, password and the code texted to the phone",
)
def register_driver(actor, body: RegisterIn):
    customer = customers.sign_up_driver(
        db_session(),
        name=body.name,
        phone=body.phone,
        password=body.password,
        code=body.code,
        client=client_address(),
        rules=phone_code_rules(),
        per_client_hour=settings()["REGISTRATIONS_PER_CLIENT_HOUR"],
    )
    return customers.customer_to_dict(customer, customer.user), 201


@api.endpoint(
    "POST",
    "/customers",
    access=CUSTOMER_WRITERS,
    body=CustomerIn,
    status=201,
    summary="Create a customer (driver or fleet)",
)
def create_customer(actor, body: CustomerIn):
    customer = customers.create_customer(
        db_session(), kind=body.kind, name=body.name, phone=body.phone, fleet_code=body.fleet
    )
    return customers.customer_to_dict(customer, actor), 201


class CustomerQuery(Schema):
    q: str = Field(description="mobile number")


@api.endpoint(
    "GET",
    "/customers",
    access=SIGNED_IN,
    query=CustomerQuery,
    summary="Find customers by mobile number (drivers: only themselves; phones masked except for OEM staff)",
)
def search_customers(actor, query: CustomerQuery):
    found = customers.search_customers(db_session(), actor, query.q)
    session = db_session()
    items = [
        customers.customer_to_dict(customer, actor, is_related_customer(session, actor, customer)) for customer in found
    ]
    return {"items": items}


@api.endpoint("GET", "/customers/me", access=[Role.DRIVER], summary="Show the signed-in driver's record")
def show_my_customer(actor):
    customer = customers.find_customer_for_user(db_session(), actor)
    if customer is None:
        raise NotFound("no customer record is linked to this account")
    return customers.customer_to_dict(customer, actor)


@api.endpoint(
    "GET",
    "/customers/<int:customer_id>",
    access=SIGNED_IN,
    summary="Show a customer (phone masked unless it is you or you are OEM staff)",
)
def show_customer(actor, customer_id: int):
    customer = customers.get_customer_for(db_session(), actor, customer_id)
    return customers.customer_to_dict(customer, actor)


class PersonalDataIn(Schema):
    format: Literal["json", "zip"] = Field("json", description="json, or zip with a readable summary")
    reason: str = Field(
        "", max_length=200, description="OEM staff: the request this answers (a service request number)"
    )


class EraseIn(Schema):
    reason: str = Field(min_length=1, max_length=200, description="the request this answers")


class CloseAccountIn(Schema):
    code: str = Field(max_length=20, description="the code texted by POST /auth/phone-codes (purpose close_account)")


def _export_for(actor, customer: Customer, body: PersonalDataIn):
    export = personal_data.export_personal_data(db_session(), actor, customer, settings(), utcnow(), body.reason)
    return personal_data_download(export, body.format)


@api.endpoint(
    "POST", "/customers/me/personal-data", access=[Role.DRIVER], body=PersonalDataIn,
    produces="application/octet-stream",
    summary="Download everything Milepost holds about you (a POST: the request is logged)",
)  # fmt: skip
def export_my_data(actor, body: PersonalDataIn):
    customer = customers.find_customer_for_user(db_session(), actor)
    if customer is None:
        raise NotFound("no customer record is linked to this account")
    return _export_for(actor, customer, body)


@api.endpoint(
    "POST", "/customers/me/close", access=[Role.DRIVER], body=CloseAccountIn,
    summary="Close your account: your personal data is erased or anonymized (needs a texted code)",
)  # fmt: skip
def close_my_account(actor, body: CloseAccountIn):
    counts = personal_data.close_account(db_session(), actor, body.code, phone_code_rules(), settings(), utcnow())
    return {"closed": True, "erased": counts}


@api.endpoint(
    "POST", "/customers/<int:customer_id>/personal-data", access=SIGNED_IN, body=PersonalDataIn,
    produces="application/octet-stream",
    summary="OEM staff: export a customer's personal data for the request they made (the reason is logged)",
)  # fmt: skip
def export_customer_data(actor, customer_id: int, body: PersonalDataIn):
    return _export_for(actor, personal_data.get_subject_for(db_session(), actor, customer_id), body)


@api.endpoint(
    "POST", "/customers/<int:customer_id>/erase", access=SIGNED_IN, body=EraseIn,
    summary="OEM staff: erase a customer's personal data for the request they made (the reason is logged)",
)  # fmt: skip
def erase_customer(actor, customer_id: int, body: EraseIn):
    if not is_oem(actor):
        raise NotFound("no such customer")
    session = db_session()
    customer = personal_data.get_subject_for(session, actor, customer_id)
    counts = personal_data.erase_person(session, actor, customer, settings(), utcnow(), reason=body.reason)
    return {"customer": customer_id, "erased": counts}


def _owner_for(actor, owner_id: int | None) -> Customer:
    session = db_session()
    if actor.role == Role.DRIVER:
        own = customers.find_customer_for_user(session, actor)
        if own is None or (owner_id is not None and owner_id != own.id):
            raise Forbidden("drivers register vehicles for themselves only", field="owner_id")
        return own
    if owner_id is None:
        raise InvalidInput("owner_id is required", field="owner_id")
    # Selling a truck to a customer found by phone is how a dealer becomes related to them.
    owner = session.get(Customer, owner_id)
    if owner is None:
        raise NotFound("no such customer", field="owner_id")
    return owner


@api.endpoint(
    "POST",
    "/vehicles",
    access=[Role.OEM_ADMIN, Role.DEALER_STAFF, Role.DRIVER],
    body=VehicleIn,
    status=201,
    summary="Register a vehicle by VIN",
)
def create_vehicle(actor, body: VehicleIn):
    session = db_session()
    owner = _owner_for(actor, body.owner_id)
    fields = body.model_dump(exclude={"owner_id", "fleet", "dealer"})
    # A dealer's or the OEM's record is a recorded sale: verified. A driver's own registration is not.
    seller = actor if actor.role in (Role.DEALER_STAFF, Role.OEM_ADMIN) else None
    vehicle = vehicles.register_vehicle(
        session, owner=owner, fleet_code=body.fleet, dealer_code=body.dealer, verified_by=seller, actor=actor, **fields
    )
    return vehicles.vehicle_to_dict(session, vehicle, actor), 201


@api.endpoint(
    "POST",
    "/vehicles/<vin>/verify",
    access=[Role.OEM_ADMIN],
    summary="Confirm a driver's own vehicle registration after checking it",
)
def verify_vehicle(actor, vin: str):
    session = db_session()
    vehicle = vehicles.verify_vehicle(session, actor, vehicles.get_vehicle_for(session, actor, vin))
    return vehicles.vehicle_to_dict(session, vehicle, actor)


@api.endpoint(
    "GET",
    "/vehicles",
    access=SIGNED_IN,
    query=VehicleQuery,
    summary="Search vehicles by VIN, plate or owner phone (drivers: their own)",
)
def list_vehicles(actor, query: VehicleQuery):
    session = db_session()
    statement = vehicles.select_vehicles_for(actor, query.q)
    return paginate(session, statement, query, lambda vehicle: vehicles.vehicle_to_dict(session, vehicle, actor))


@api.endpoint("GET", "/vehicles/<vin>", access=SIGNED_IN, summary="Show a vehicle with its ownership history")
def show_vehicle(actor, vin: str):
    session = db_session()
    vehicle = vehicles.get_vehicle_for(session, actor, vin)
    return vehicles.vehicle_to_dict(session, vehicle, actor, with_history=True)


@api.endpoint(
    "POST",
    "/vehicles/<vin>/transfer",
    access=[Role.OEM_ADMIN, Role.DEALER_STAFF, Role.DRIVER],
    body=TransferIn,
    summary="Transfer a vehicle (the selling dealer, the OEM) or offer it to a named new owner (the owner: 202)",
)
def transfer_vehicle(actor, vin: str, body: TransferIn):
    session = db_session()
    vehicle = vehicles.get_vehicle_for(session, actor, vin)
    new_owner = session.get(Customer, body.to_customer)
    if new_owner is None:
        raise NotFound("no such customer", field="to_customer")
    moved = vehicles.transfer_vehicle(session, actor, vehicle, new_owner, body.note)
    if isinstance(moved, VehicleTransfer):
        return {"transfer": moved.id, "status": "waiting_for_new_owner"}, 202
    return vehicles.vehicle_to_dict(session, vehicle, actor, with_history=True)


@api.endpoint(
    "GET",
    "/vehicle-transfers",
    access=[Role.DRIVER],
    summary="List vehicles offered to you, waiting for your confirmation",
)
def list_vehicle_transfers(actor):
    offers = vehicles.list_transfers_for(db_session(), actor)
    return {
        "items": [
            {"id": offer.id, "vin": offer.vehicle.vin, "requested_at": offer.requested_at.isoformat()}
            for offer in offers
        ]
    }


@api.endpoint(
    "POST",
    "/vehicle-transfers/<int:transfer_id>/confirm",
    access=[Role.DRIVER],
    summary="Confirm a vehicle offered to you by its owner; it becomes yours",
)
def confirm_vehicle_transfer(actor, transfer_id: int):
    session = db_session()
    vehicle = vehicles.confirm_transfer(session, actor, transfer_id)
    return vehicles.vehicle_to_dict(session, vehicle, actor, with_history=True)


class ActivityQuery(PageQuery):
    action: str | None = Field(None, max_length=60, description='an action, or a domain prefix such as "network."')
    actor_id: int | None = Field(None, ge=1, le=2**63 - 1)
    organization_id: int | None = Field(None, ge=1, le=2**63 - 1)
    subject_type: str | None = Field(None, max_length=40)
    subject_id: str | None = Field(None, max_length=60)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


@api.endpoint(
    "GET", "/activity", access=(Role.OEM_ADMIN,), query=ActivityQuery, summary="Read the activity log, newest first"
)
def list_activity(actor, query: ActivityQuery):
    filters = query.model_dump(exclude={"page", "per_page"})
    return paginate(report_session(), activity.select_activity(**filters), query, activity.activity_to_dict)


class WechatGrantIn(Schema):
    openid: str = Field(min_length=1, max_length=64, description="the person's openid in the mini-program")
    template_ids: list[str] = Field(min_length=1, max_length=10, description="the templates the person accepted")


@api.endpoint(
    "POST", "/notifications/wechat-grants", access=SIGNED_IN, body=WechatGrantIn, status=201,
    summary="Record one-time WeChat subscriptions the person just accepted",
)  # fmt: skip
def record_wechat_grants(actor, body: WechatGrantIn):
    session = db_session()
    grants = [record_grant(session, actor, body.openid, template, utcnow()) for template in body.template_ids]
    return {"recorded": len(grants)}, 201


@api.endpoint("GET", "/notifications", access=SIGNED_IN, summary="List my inbox, newest first")
def list_my_notifications(actor):
    rows = notifications.list_inbox(db_session(), actor.id)
    return {
        "unread": notifications.count_unread(db_session(), actor.id),
        "items": [
            {
                "id": row.id, "kind": row.kind, "text": notifications.render_text(row, gettext), "link": row.link,
                "created_at": row.created_at.isoformat(), "read": row.read_at is not None,
            }
            for row in rows
        ],
    }  # fmt: skip
