"""Plaques: issue and re-issue, the public check (valid, stale, forged, far away), the printable SVG."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import zxingcpp
from PIL import Image

from app.security import Role
from reviews.models import CertificationState
from reviews.plaque_codes import plaque_url
from reviews.plaques import qr_path
from tests.factories import auth_header, make_driver, make_user
from tests.reviews.factories import make_shop, make_shop_staff
from tests.statements import statements_of

JSON = {"Accept": "application/json"}


def issue(client, session, shop, tier="certified"):
    session.merge(CertificationState(shop_id=shop.id, tier=tier, kpis={}))
    session.flush()
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))
    response = client.post(f"/api/v1/shops/{shop.code}/plaque", headers=oem)
    assert response.status_code == 201
    return response.json["url"]


def scan(client, url, **params):
    parsed = urlparse(url)
    query = parse_qs(parsed.query) | {key: [str(value)] for key, value in params.items()}
    return client.get(parsed.path, query_string={key: values[0] for key, values in query.items()}, headers=JSON)


@pytest.mark.parametrize(("tier", "colour"), [("gold", "green"), ("watch", "amber"), ("revoked", "red")])
def test_plaque_valid_shows_live_tier_colour(client, session, tier, colour):
    shop = make_shop(session)
    url = issue(client, session, shop, tier)

    response = scan(client, url)

    assert (response.json["status"], response.json["colour"], response.json["tier"]) == ("valid", colour, tier)


def test_plaque_forged_tag_says_forged(client, session):
    shop = make_shop(session)
    url = issue(client, session, shop)
    tag = parse_qs(urlparse(url).query)["c"][0]
    forged = tag[:-1] + ("0" if tag[-1] != "0" else "1")

    response = scan(client, url, c=forged)

    assert (response.json["status"], response.json["colour"]) == ("forged", "red")


def test_plaque_of_another_shop_is_forged(client, session):
    first, second = make_shop(session), make_shop(session)
    url = issue(client, session, first)
    tag = parse_qs(urlparse(url).query)["c"][0]

    response = client.get(f"/plaque/{second.code}", query_string={"c": tag}, headers=JSON)

    assert response.json["status"] == "forged"


def test_plaque_reissue_makes_old_one_stale(client, session):
    shop = make_shop(session)
    old = issue(client, session, shop)
    new = issue(client, session, shop)

    assert scan(client, old).json["status"] == "stale"
    assert scan(client, new).json["status"] == "valid"
    assert scan(client, new).json["plaque"] == 2


def test_plaque_far_from_shop_warns(client, session):
    shop = make_shop(session, lat=34.75, lon=113.62)
    url = issue(client, session, shop)

    near = scan(client, url, lat=34.751, lon=113.621).json
    far = scan(client, url, lat=35.2, lon=113.62).json

    assert near["far_from_shop"] is False
    assert far["far_from_shop"] is True
    assert far["distance_km"] == pytest.approx(50, abs=1)


def test_plaque_bad_coordinates_name_the_field(client, session):
    shop = make_shop(session)
    url = issue(client, session, shop)

    response = scan(client, url, lat="north", lon=113)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "lat"


def test_plaque_page_html_says_forged(client, session):
    shop = make_shop(session)

    response = client.get(f"/plaque/{shop.code}?c=AAAAAAAAAAAAAAAAA&lang=en")

    assert response.status_code == 200
    assert b"Forged plaque" in response.data
    assert b'data-colour="red"' in response.data


def test_plaque_unknown_shop(client):
    response = client.get("/plaque/NOPE?c=A", headers=JSON)

    assert response.json["status"] == "unknown_shop"


def test_printable_plaque_qr_decodes_to_url(client, session, tmp_path):
    shop = make_shop(session)
    url = issue(client, session, shop)
    path, size = qr_path(url)
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    for command in path.split("z")[:-1]:
        x, y = (int(value) for value in command[1:].split("h")[0].split(","))
        image.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))

    decoded = zxingcpp.read_barcodes(image)

    assert decoded[0].text == url


def test_printable_plaque_svg_for_own_staff(client, session):
    shop = make_shop(session)
    issue(client, session, shop)

    own = client.get(
        f"/api/v1/shops/{shop.code}/plaque.svg", headers=auth_header(session, make_shop_staff(session, shop))
    )
    other = client.get(
        f"/api/v1/shops/{shop.code}/plaque.svg",
        headers=auth_header(session, make_shop_staff(session, make_shop(session))),
    )

    assert own.status_code == 200
    assert own.mimetype == "image/svg+xml"
    assert b"<path d=" in own.data
    assert other.status_code == 403


def test_plaque_issue_by_driver_is_forbidden(client, session):
    shop = make_shop(session)
    user, _customer = make_driver(session)

    response = client.post(f"/api/v1/shops/{shop.code}/plaque", headers=auth_header(session, user))

    assert response.status_code == 403


def test_plaque_url_uses_public_base(client, session):
    shop = make_shop(session)

    assert issue(client, session, shop).startswith(plaque_url("https://mp.test", shop.code, "")[:-3])


def test_forged_plaque_page_says_the_named_shops_standing_does_not_vouch_for_it(client, session):
    shop = make_shop(session)
    url = urlparse(issue(client, session, shop, "gold"))

    forged = client.get(f"/plaque/{shop.code}?c=AAAAAAAAAAAAAAAAA&lang=en").get_data(as_text=True)
    genuine = client.get(f"{url.path}?{url.query}&lang=en")

    assert "does not vouch for the place in front of you" in " ".join(forged.split())
    assert "named-shop-note" not in genuine.get_data(as_text=True)


def test_the_plaque_page_reads_the_shop_its_standing_and_plaques_in_one_statement(client, session):
    """A customer at the counter scans the plaque on the wall: the page is public and frequent, so it reads the
    shop with its live tier, score, latest certification reason and plaques at once."""

    shop = make_shop(session)
    url = issue(client, session, shop, "gold")
    parsed = urlparse(url)
    page = f"{parsed.path}?{parsed.query}&lang=en"
    client.get(page)
    response, sent = statements_of(session, lambda: client.get(page))
    statements = [statement for statement in sent if statement.lstrip().upper().startswith("SELECT")]

    assert response.status_code == 200 and b'data-status="valid"' in response.data
    assert len(statements) == 1, statements
