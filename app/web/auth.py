"""Sign-in: bearer tokens for programs, and login/logout pages with CSRF for browsers."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from pydantic import Field, model_validator

from app.errors import CountedFailure, InvalidInput, RateLimited
from app.security import User, authenticate, issue_token, revoke_token
from app.web.context import bearer_token, client_address, db_session, settings
from app.web.csrf import check_csrf
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, Schema
from app.web.transaction import discard_request_writes

api = ApiBlueprint("auth_api", __name__, tag="Auth")
pages = Blueprint("auth", __name__, template_folder="templates")


class TokenIn(Schema):
    email: str | None = None
    phone: str | None = None
    password: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_login(self) -> TokenIn:
        if not (self.email or self.phone):
            raise ValueError("give email or phone")
        return self


def _sign_in(login: str, password: str):
    return authenticate(
        db_session(),
        login,
        password,
        client=client_address(),
        limit=settings()["LOGIN_MAX_FAILURES"],
        client_limit=settings()["LOGIN_MAX_CLIENT_FAILURES"],
        window=timedelta(seconds=settings()["LOGIN_WINDOW_SECONDS"]),
    )


@api.endpoint(
    "POST",
    "/auth/tokens",
    access=PUBLIC,
    body=TokenIn,
    status=201,
    summary="Exchange email or phone and password for a bearer token",
)
def create_token(actor, body: TokenIn):
    user = _sign_in(body.email or body.phone or "", body.password)
    token, record = issue_token(db_session(), user, timedelta(hours=settings()["TOKEN_HOURS"]))
    return {"token": token, "expires_at": record.expires_at.isoformat(), "role": user.role}, 201


@api.endpoint("DELETE", "/auth/tokens/current", access=SIGNED_IN, status=204, summary="Revoke the token in use")
def revoke_current_token(actor):
    token = bearer_token()
    if token is None:
        raise InvalidInput("send the token to revoke as the bearer token", field="Authorization")
    revoke_token(db_session(), token)
    return "", 204


@pages.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign in."""
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            user = _sign_in(request.form.get("login", ""), request.form.get("password", ""))
        except (CountedFailure, RateLimited) as failure:
            discard_request_writes(failure)
            error = (
                _("Too many attempts. Try again later.")
                if isinstance(failure, RateLimited)
                else _("Wrong phone/email or password.")
            )
        else:
            return start_browser_session(user)
    return render_template("auth/login.html", error=error), (401 if error else 200)


def start_browser_session(user: User) -> Response:
    """Sign `user` in on this browser (a fresh cookie session keeping the language) and go to `?next=`."""
    language = cookie_session.get("lang")
    cookie_session.clear()
    cookie_session["user_id"] = user.id
    if language:
        cookie_session["lang"] = language
    return redirect(safe_next_url())


def safe_next_url() -> str:
    """Return the `next` parameter when it is a path on this site, else the start page (no open redirect)."""
    target = request.args.get("next", "")
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("home")


@pages.route("/logout", methods=["POST"])
def logout():
    """Sign out of the browser session."""
    check_csrf()
    cookie_session.pop("user_id", None)
    return redirect(url_for("home"))
