"""Sign-in: bearer tokens for programs, and login/logout pages with CSRF for browsers."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from pydantic import Field, model_validator

from app import one_time_codes
from app.errors import CountedFailure, InvalidInput, MilepostError, RateLimited
from app.one_time_codes import CodePurpose
from app.phones import mask_phone
from app.security import (
    LoginLimits,
    TokenKind,
    User,
    change_password,
    issue_token,
    require_actor,
    require_role,
    revoke_token,
)
from app.sign_in import CodeSent, sign_in
from app.web.context import (
    SIGN_IN_KEY,
    bearer_token,
    client_address,
    current_actor,
    db_session,
    phone_code_rules,
    settings,
    sms_sender,
)
from app.web.csrf import check_csrf
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, Schema
from app.web.redirects import safe_next
from app.web.transaction import discard_request_writes, reads_first

api = ApiBlueprint("auth_api", __name__, tag="Auth")
pages = Blueprint("auth", __name__, template_folder="templates")
# Role -> endpoint a browser sign-in without `?next=` lands on; the shell fills it in (the start page otherwise).
LANDING_PAGES: dict[str, str] = {}


def page_actor(*roles: str) -> User | Response:
    """Return the signed-in actor with one of `roles`, or a redirect to the sign-in page (403 for other roles)."""
    actor = current_actor()
    if actor is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return require_role(actor, *roles)


class TokenIn(Schema):
    email: str | None = None
    phone: str | None = None
    password: str = Field(min_length=1, max_length=200)
    code: str | None = Field(None, max_length=20, description="the texted code, when a sign-in asks for one")

    @model_validator(mode="after")
    def _one_login(self) -> TokenIn:
        if not (self.email or self.phone):
            raise ValueError("give email or phone")
        return self


class PhoneCodeIn(Schema):
    phone: str = Field(max_length=40, description="Chinese mobile number")
    purpose: CodePurpose = CodePurpose.REGISTER


@api.endpoint(
    "POST",
    "/auth/phone-codes",
    access=PUBLIC,
    body=PhoneCodeIn,
    status=202,
    summary="Text a one-time code to a phone (6 digits, valid 5 minutes); the same answer for every number",
)
def send_phone_code(actor, body: PhoneCodeIn):
    record = one_time_codes.send_phone_code(
        db_session(), sms_sender(), body.phone, body.purpose, client_address(), phone_code_rules()
    )
    return {"phone": mask_phone(record.phone), "expires_at": record.expires_at.isoformat()}, 202


def _sign_in(login: str, password: str, code: str | None = None):
    return sign_in(
        db_session(),
        login,
        password,
        code,
        client_address(),
        LoginLimits.from_settings(settings()),
        sms_sender(),
        phone_code_rules(),
    )


@api.endpoint(
    "POST",
    "/auth/tokens",
    access=PUBLIC,
    body=TokenIn,
    status=201,
    summary="Exchange email or phone and password for a bearer token",
)
@reads_first
def create_token(actor, body: TokenIn):
    user = _sign_in(body.email or body.phone or "", body.password, body.code)
    if isinstance(user, CodeSent):
        # Not an error: the texted code is stored with this request's commit.
        error = {"code": "code_required", "message": user.message, "field": "code", "phone": mask_phone(user.phone)}
        return {"error": error}, 401
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
@reads_first
def login():
    """Show the sign-in form and sign in."""
    error, code_sent = None, False
    # Checked before anything else, so that a hostile target is refused before a password is tried.
    safe_next(request.args.get("next"))
    if request.method == "POST":
        check_csrf()
        form = request.form
        try:
            user = _sign_in(form.get("login", ""), form.get("password", ""), form.get("code") or None)
        except (CountedFailure, RateLimited) as failure:
            discard_request_writes(failure)
            error = (
                _("Too many attempts. Try again later.")
                if isinstance(failure, RateLimited)
                else _("Wrong phone/email or password.")
            )
        else:
            if not isinstance(user, CodeSent):
                return start_browser_session(user)
            code_sent = True
    page = render_template("auth/login.html", error=error, code_sent=code_sent, login=request.form.get("login", ""))
    return page, (401 if error or code_sent else 200)


def start_browser_session(user: User) -> Response:
    """Sign `user` in on this browser (a fresh cookie session keeping the language) and go to `?next=`, or to
    the role's landing page."""
    remember_sign_in(user)
    landing = LANDING_PAGES.get(user.role)
    # The top bar's sign-in link names the page it was on; from the start page that is no real destination.
    if request.args.get("next") in (None, "", "/") and landing is not None:
        return redirect(url_for(landing))
    return redirect(safe_next(request.args.get("next")))


def remember_sign_in(user: User) -> None:
    """Record a new server-side sign-in for `user` and put its token into a fresh cookie session."""
    token, _record = issue_token(
        db_session(), user, timedelta(hours=settings()["SIGN_IN_HOURS"]), kind=TokenKind.BROWSER
    )
    language = cookie_session.get("lang")
    cookie_session.clear()
    cookie_session[SIGN_IN_KEY] = token
    if language:
        cookie_session["lang"] = language


@pages.route("/logout", methods=["POST"])
def logout():
    """Sign out: the sign-in ends on the server too, so a copy of the cookie no longer works."""
    check_csrf()
    token = cookie_session.pop(SIGN_IN_KEY, None)
    if token:
        revoke_token(db_session(), token)
    return redirect(url_for("home"))


class PasswordChangeIn(Schema):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


@api.endpoint(
    "POST",
    "/auth/password",
    access=SIGNED_IN,
    body=PasswordChangeIn,
    status=204,
    summary="Change your password; every sign-in and token of the account ends (this browser stays signed in)",
)
def change_my_password(actor, body: PasswordChangeIn):
    change_password(db_session(), actor, body.current_password, body.new_password)
    if bearer_token() is None:
        remember_sign_in(actor)
    return "", 204


@pages.route("/account/password", methods=["GET", "POST"])
def password_page():
    """Let a signed-in user change the password; other browsers and tokens are signed out."""
    actor = require_actor(current_actor())
    error, changed = None, False
    if request.method == "POST":
        check_csrf()
        try:
            change_password(
                db_session(), actor, request.form.get("current_password", ""), request.form.get("new_password", "")
            )
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
        else:
            remember_sign_in(actor)
            changed = True
    return render_template("auth/password.html", error=error, changed=changed), (error.status if error else 200)
