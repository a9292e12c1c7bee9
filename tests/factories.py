"""Small typed factories: each adds, flushes and returns one record, with overridable fields."""

from __future__ import annotations

import itertools
import random
from functools import lru_cache

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.crm.identifiers import vin_check_digit
from app.crm.models import Customer, Organization, Vehicle, VehicleOwnership
from app.db import utcnow
from app.security import Role, User, issue_token

PASSWORD = "correct-horse-9"
_sequence = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    """Hash PASSWORD once, with scrypt at a test's cost (N=2**10, not the app's 2**15).

    Checking a password reads the cost from the stored hash, so each of the suite's many sign-ins of a test
    user costs milliseconds instead of about 0.1 s of CPU. The app's own hashing (app.security.hash_password,
    at full cost) is what users made through the app, the CLI and the demo get."""
    return generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


def make_organization(session: Session, **overrides: object) -> Organization:
    number = next(_sequence)
    fields = {
        "kind": "dealer",
        "code": f"ORG-{number:05d}",
        "name": f"Organization {number}",
        "province": "Henan",
        "city": "Zhengzhou",
        "lat": 34.75,
        "lon": 113.62,
    }
    fields.update(overrides)
    organization = Organization(**fields)
    session.add(organization)
    session.flush()
    return organization


def make_user(
    session: Session, role: str = Role.OEM_ADMIN, organization: Organization | None = None, **overrides: object
) -> User:
    number = next(_sequence)
    if organization is None and role != Role.DRIVER:
        kind = {
            Role.OEM_ADMIN: "oem",
            Role.SHOP_STAFF: "shop",
            Role.DEALER_STAFF: "dealer",
            Role.WAREHOUSE_STAFF: "warehouse",
            Role.FACTORY_STAFF: "factory",
        }[role]
        organization = make_organization(session, kind=kind)
    fields = {
        "email": f"user{number}@example.test",
        "password_hash": password_hash(),
        "role": role,
        "organization_id": organization.id if organization else None,
        "display_name": f"User {number}",
    }
    if role == Role.DRIVER:
        fields.update(email=None, phone=f"139{number:08d}")
    fields.update(overrides)
    user = User(**fields)
    session.add(user)
    session.flush()
    return user


def make_customer(session: Session, user: User | None = None, **overrides: object) -> Customer:
    number = next(_sequence)
    phone = user.phone if user and user.phone else f"137{number:08d}"
    fields = {"kind": "driver", "name": f"张{number}", "phone": phone, "user": user}
    fields.update(overrides)
    customer = Customer(**fields)
    session.add(customer)
    session.flush()
    return customer


def make_driver(session: Session) -> tuple[User, Customer]:
    """Return a driver account and its customer record."""
    user = make_user(session, Role.DRIVER)
    return user, make_customer(session, user=user)


def random_vin(seed: int | None = None) -> str:
    """Return a valid VIN (correct check digit)."""
    rng = random.Random(seed if seed is not None else next(_sequence))
    body = (
        "LZZ"
        + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(5))
        + "0K"
        + "A"
        + f"{rng.randrange(10**6):06d}"
    )
    return body[:8] + vin_check_digit(body) + body[9:]


def make_vehicle(session: Session, owner: Customer | None = None, **overrides: object) -> Vehicle:
    fields = {
        "vin": random_vin(),
        "model": "HOWO TX",
        "plate": None,
        "province": "Henan",
        "owner": owner or make_customer(session),
        # A truck a dealer sold: verified (a driver's own registration through the API is not).
        "verified_at": utcnow(),
    }
    fields.update(overrides)
    vehicle = Vehicle(**fields)
    session.add(vehicle)
    session.flush()
    # The first ownership period, as register_vehicle opens it.
    session.add(VehicleOwnership(vehicle_id=vehicle.id, customer_id=vehicle.owner.id))
    session.flush()
    return vehicle


PAGE_CSRF = "test-csrf"


def sign_in_client(client, user: User) -> str:
    """Sign the test client's cookie session in as `user`; return the CSRF token its forms must send."""
    from datetime import timedelta

    from sqlalchemy.orm import object_session

    from app.security import TokenKind
    from app.web.context import SIGN_IN_KEY

    client.get("/login")
    token, _record = issue_token(object_session(user), user, timedelta(hours=1), kind=TokenKind.BROWSER)
    with client.session_transaction() as cookie:
        cookie[SIGN_IN_KEY] = token
        cookie["csrf"] = PAGE_CSRF
    return PAGE_CSRF


def auth_header(session: Session, user: User) -> dict[str, str]:
    """Return an Authorization header with a fresh bearer token for `user`."""
    from datetime import timedelta

    token, _record = issue_token(session, user, timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def texted_code(app, phone: str) -> str:
    """Return the last one-time code the development SMS backend wrote for `phone`."""
    import re
    from pathlib import Path

    from app.sms import read_outbox

    texts = [message["text"] for message in read_outbox(Path(app.instance_path) / "sms.log") if message["to"] == phone]
    assert texts, f"no text message was sent to {phone}"
    return re.search(r"\d{6}", texts[-1]).group(0)


def request_code(client, phone: str, address: str = "10.0.0.1", purpose: str = "register"):
    """Ask the API to text a one-time code to `phone`."""
    return client.post(
        "/api/v1/auth/phone-codes", json={"phone": phone, "purpose": purpose}, environ_base={"REMOTE_ADDR": address}
    )


def register_with_code(client, phone: str, password: str = "long-enough-1", name: str = "周师傅", **extra):
    """Register a driver through the API with the code texted to `phone`."""
    request_code(client, phone)
    body = {"name": name, "phone": phone, "password": password, "code": texted_code(client.application, phone)}
    return client.post("/api/v1/auth/register", json={**body, **extra})
