"""The OEM's roadside desk page: each waiting request says when the driver asked, and the page reloads itself."""

from __future__ import annotations

from datetime import UTC, datetime

from app.security import Role
from tests.factories import make_user, sign_in_client
from tests.network.factories import make_assistance_request, make_shop


def test_desk_shows_when_the_driver_asked_in_local_time_and_refreshes(client, session):
    make_shop(session)
    make_assistance_request(
        session,
        status="escalated",
        created_at=datetime(2026, 12, 3, 1, 5, tzinfo=UTC),
        escalated_at=datetime(2026, 12, 3, 1, 20, tzinfo=UTC),
    )
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get("/assistance/desk").get_data(as_text=True)

    # 01:05 UTC is 09:05 in Shanghai.
    assert "司机求助于 12-03 09:05" in page
    assert "09:20 转交主机厂" in page
    assert '<meta http-equiv="refresh" content="60">' in page
