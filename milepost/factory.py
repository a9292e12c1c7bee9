"""The application factory: settings, database, blueprints, CLI, errors, i18n."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import Babel, get_translations
from sqlalchemy.engine import Connection
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from app.config import ConfigError, instance_path, load_settings, read_instance_secrets, validate_settings
from app.crm.wechat import WECHAT_KEY, make_wechat_sender
from app.db import READ_ROUTER_KEY, make_engine, make_read_router, make_sessionmaker
from app.security import Role
from app.signing import KeyError_, KeyRing
from app.sms import make_sender
from app.web import auth, jobs, meta
from app.web.context import KEYRING_KEY, SESSIONMAKER_KEY, SMS_KEY, close_db_session, current_actor
from app.web.csrf import csrf_token
from app.web.errors import register_error_handlers
from app.web.headers import install_security_headers
from app.web.i18n import (
    TEMPLATE_TRANSLATIONS,
    TranslatedTemplates,
    error_text,
    install_template_gettext,
    language_switch_url,
    local_date,
    remember_locale_choice,
    role_label,
    select_locale,
)
from app.web.input_guard import install_input_guard
from app.web.transaction import TransactionalFlask
from milepost import landing
from milepost.jobs import attach_queue

ROOT = Path(__file__).resolve().parent
DOMAIN_PACKAGES = (
    "milepost",
    "app",
    "traceability",
    "network",
    "reviews",
    "knowledge",
    "service",
    "community",
    "leads",
    "maintenance",
)


def _blueprints() -> list:
    from app.crm import api as crm_api
    from app.crm import pages as crm_pages
    from community import api as community_api
    from community import pages as community_pages
    from knowledge import api as knowledge_api
    from knowledge import pages as knowledge_pages
    from leads import api as leads_api
    from leads import pages as leads_pages
    from maintenance import api as maintenance_api
    from maintenance import pages as maintenance_pages
    from milepost import dashboard_pages
    from network import api as network_api
    from network import pages as network_pages
    from reviews import api as reviews_api
    from reviews import pages as reviews_pages
    from service import api as service_api
    from service import pages as service_pages
    from traceability import api as traceability_api
    from traceability import counter_pages, factory_pages
    from traceability import oem_pages as traceability_oem_pages
    from traceability import pages as traceability_pages

    return [
        meta.pages,
        jobs.api,
        jobs.pages,
        auth.api,
        auth.pages,
        crm_api.api,
        crm_pages.pages,
        traceability_api.api,
        traceability_pages.pages,
        counter_pages.pages,
        factory_pages.pages,
        traceability_oem_pages.pages,
        dashboard_pages.pages,
        network_api.api,
        network_pages.pages,
        reviews_api.api,
        reviews_pages.pages,
        knowledge_api.api,
        knowledge_pages.pages,
        service_api.api,
        service_pages.pages,
        community_api.api,
        community_pages.pages,
        leads_api.api,
        leads_pages.pages,
        maintenance_api.api,
        maintenance_pages.pages,
    ]


def _navigation() -> list:
    from app.crm import pages as crm_pages
    from community import pages as community_pages
    from knowledge import pages as knowledge_pages
    from leads import pages as leads_pages
    from maintenance import pages as maintenance_pages
    from milepost import dashboard_pages
    from network import pages as network_pages
    from reviews import pages as reviews_pages
    from service import pages as service_pages
    from traceability import counter_pages, factory_pages
    from traceability import oem_pages as traceability_oem_pages
    from traceability import pages as traceability_pages

    modules = (
        dashboard_pages,
        crm_pages,
        traceability_pages,
        traceability_oem_pages,
        counter_pages,
        factory_pages,
        network_pages,
        reviews_pages,
        knowledge_pages,
        jobs,
        service_pages,
        community_pages,
        leads_pages,
        maintenance_pages,
    )
    return [item for module in modules for item in getattr(module, "NAVIGATION", [])]


class DatabaseIntegerConverter(IntegerConverter):
    """`<int:...>` path parts that fit the id columns; a larger number is a plain 404, not a driver overflow (500).

    Most ids are 32-bit INTEGER columns on PostgreSQL (the tables that grow past that are years away from 2**31
    rows: 50 million scans a year), so a path id is bounded like a request schema's integers."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None, max: int = 2**31 - 1) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max)


def default_database_url(instance_path: str) -> str:
    """Return the embedded SQLite database's URL in the instance folder."""
    return f"sqlite:///{Path(instance_path) / 'milepost.sqlite3'}"


# Each domain's part of a person's data copy and erasure (app.crm.personal_data); importing one registers it.
PERSONAL_DATA_MODULES = (
    "traceability.personal_data",
    "network.personal_data",
    "reviews.personal_data",
    "service.personal_data",
    "community.personal_data",
    "leads.personal_data",
    "maintenance.personal_data",
)


def load_personal_data_parts() -> None:
    """Import every domain's personal-data module, so that exports and erasures cover every domain."""
    for name in PERSONAL_DATA_MODULES:
        importlib.import_module(name)


def _register_domain_hooks() -> None:
    from app.crm.pages import register_vehicle_panel
    from community.pages import ask_community_link
    from knowledge.pages import register_fault_page_link
    from maintenance.pages import maintenance_panel
    from maintenance.servicing import record_booking_service
    from network.booking import register_booking_listener
    from network.pages.vehicle import vehicle_history_panel
    from network.presence import vehicle_at_shop
    from traceability.pages import installed_parts_panel
    from traceability.service_access import register_vehicle_presence

    # Traceability cannot name network (peers): the shell tells it which shop a vehicle is at.
    register_vehicle_presence(vehicle_at_shop, key="network")
    # Knowledge cannot name community (a higher layer): the shell adds community's link to the fault page.
    register_fault_page_link(ask_community_link, key="community")
    # CRM's vehicle page cannot name the domains above it: each adds its section of the truck's page.
    register_vehicle_panel(installed_parts_panel, key="traceability", order=10)
    register_vehicle_panel(vehicle_history_panel, key="network", order=20)
    register_vehicle_panel(maintenance_panel, key="maintenance", order=5)
    # Network cannot name maintenance: maintenance listens to check-ins and completions for the shop's meters.
    register_booking_listener(record_booking_service, key="maintenance")
    load_personal_data_parts()


class MilepostFlask(TransactionalFlask):
    """The request-transaction Flask whose templates are compiled once per locale, their literal `_()` translated."""

    jinja_environment = TranslatedTemplates


def create_app(
    config: dict[str, Any] | None = None, connection: Connection | None = None, *, pre_ping: bool = True
) -> Flask:
    """Create the Milepost application; `connection` lets tests share one transaction with the app.

    Without `pre_ping` the engine checks no pooled connection before use: for the web server's workers, whose
    every database use is a request, and a request met by a connection the server closed runs again on a fresh
    one (app.web.transaction). Commands and the job worker keep the check."""
    app = MilepostFlask("milepost", instance_path=str(instance_path()), root_path=str(ROOT))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = load_settings(config)
    # `milepost init` writes the secrets into the instance folder; environment or config still win.
    for name, value in read_instance_secrets(app.instance_path).items():
        if name in ("SECRET_KEY", "CODE_KEYS") and not settings[name]:
            settings[name] = value
    validate_settings(settings)
    app.config.update(settings)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings["PUBLIC_BASE_URL"].startswith("https://")
    if not settings["SECRET_KEY"]:
        app.config["SECRET_KEY"] = "debug-and-testing-only"
    app.config["DATABASE_URL"] = settings["DATABASE_URL"] or default_database_url(app.instance_path)

    if connection is None:
        engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=pre_ping)
        app.extensions["milepost.engine"] = engine
        app.extensions[SESSIONMAKER_KEY] = make_sessionmaker(engine)
    else:
        app.extensions["milepost.engine"] = connection.engine
        app.extensions[SESSIONMAKER_KEY] = make_sessionmaker(connection)
    app.extensions[READ_ROUTER_KEY] = make_read_router(settings["DATABASE_REPLICA_URL"])
    app.extensions[SMS_KEY] = make_sender(app.config, app.instance_path)
    app.extensions[WECHAT_KEY] = make_wechat_sender(app.config)
    attach_queue(app)
    _register_domain_hooks()
    if settings["CODE_KEYS"]:
        try:
            app.extensions[KEYRING_KEY] = KeyRing.from_spec(settings["CODE_KEYS"])
        except KeyError_ as error:
            raise ConfigError(f"MILEPOST_CODE_KEYS: {error}") from error
    if settings["PROXY_COUNT"]:
        # Client addresses (login limits) and https detection come from the proxy's headers, never the client's.
        count = int(settings["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    translation_directories = ";".join(str(ROOT.parent / package / "translations") for package in DOMAIN_PACKAGES)
    Babel(app, locale_selector=select_locale, default_translation_directories=translation_directories)
    install_template_gettext(app)
    register_error_handlers(app)
    install_security_headers(app)
    install_input_guard(app)
    app.teardown_appcontext(close_db_session)
    app.before_request(remember_locale_choice)

    navigation = _navigation()

    # A global, not a context value, so that macros imported without context (form_error) can use it too.
    app.jinja_env.globals["error_text"] = error_text

    @app.context_processor
    def _template_globals() -> dict:
        actor = current_actor()
        links = [item for item in navigation if not item.roles or (actor is not None and actor.role in item.roles)]
        return {
            "csrf_token": csrf_token,
            "actor": actor,
            "locale": select_locale(),
            "navigation": links,
            "language_switch_url": language_switch_url,
            "local_date": local_date,
            "role_label": role_label,
            TEMPLATE_TRANSLATIONS: get_translations(),
        }

    app.add_url_rule("/", "home", landing.home)

    app.url_map.converters["int"] = DatabaseIntegerConverter
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)

    # Where a sign-in without `?next=` lands, per role (app.web.auth knows no endpoint above it).
    auth.LANDING_PAGES[Role.OEM_ADMIN] = "dashboard.oem_dashboard"
    register_domain_commands(app)
    return app


def register_domain_commands(app: Flask) -> None:
    """Add each domain's commands to the app's CLI (the `milepost` group picks them up)."""
    from app.crm.cli import COMMANDS as crm_commands
    from community.cli import COMMANDS as community_commands
    from knowledge.cli import COMMANDS as knowledge_commands
    from leads.cli import COMMANDS as leads_commands
    from maintenance.cli import COMMANDS as maintenance_commands
    from network.cli import COMMANDS as network_commands
    from reviews.cli import COMMANDS as reviews_commands
    from service.cli import COMMANDS as service_commands
    from traceability.cli import COMMANDS as traceability_commands

    for command in [
        *crm_commands,
        *traceability_commands,
        *network_commands,
        *reviews_commands,
        *knowledge_commands,
        *service_commands,
        *community_commands,
        *leads_commands,
        *maintenance_commands,
    ]:
        app.cli.add_command(command)
