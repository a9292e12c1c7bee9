"""The `milepost` command: init, db, serve, users, demo, and each domain's commands."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from app.config import ENV_PREFIX, instance_path
from app.errors import MilepostError
from app.signing import generate_key_spec, next_kid


def _create_app() -> Flask:
    from milepost.factory import create_app

    return create_app()


def ensure_instance(path: Path) -> bool:
    """Create the instance folder and its secrets file (mode 600) unless present; tell whether it was made."""
    path.mkdir(parents=True, exist_ok=True)
    secrets_file = path / "secrets.json"
    if secrets_file.exists():
        return False
    content = {"SECRET_KEY": secrets.token_urlsafe(48), "CODE_KEYS": generate_key_spec("A")}
    descriptor = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(content, handle, indent=2)
    return True


def run_upgrade(app: Flask) -> None:
    """Apply all migrations to the app's database."""
    from milepost.migrate import upgrade

    upgrade(url=app.config["DATABASE_URL"])


def close_database(app: Flask | None) -> None:
    """Close the app's pooled database connections (a command ends; nothing should linger)."""
    if app is not None and "milepost.engine" in app.extensions:
        app.extensions["milepost.engine"].dispose()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
@click.pass_context
def main(context: click.Context) -> None:
    """Milepost: genuine parts, honest shops, a network that covers the expressways."""
    script_info = context.ensure_object(ScriptInfo)
    context.call_on_close(lambda: close_database(script_info._loaded_app))


@main.command("init", with_appcontext=False)
def init_command() -> None:
    """Create the instance folder with fresh secrets and migrate the database."""
    path = instance_path()
    made = ensure_instance(path)
    click.echo(f"{'Created' if made else 'Kept'} secrets in {path / 'secrets.json'}")
    app = _create_app()
    run_upgrade(app)
    close_database(app)
    click.echo(f"Database ready: {app.config['DATABASE_URL']}")


@main.command("rotate-keys", with_appcontext=False)
def rotate_keys_command() -> None:
    """Add a new code-signing key; the old ones keep verifying printed labels."""
    secrets_file = instance_path() / "secrets.json"
    if not secrets_file.exists():
        raise click.ClickException("no instance secrets; run `milepost init` first")
    content = json.loads(secrets_file.read_text())
    spec = content["CODE_KEYS"]
    kid = next_kid(spec)
    content["CODE_KEYS"] = f"{spec},{generate_key_spec(kid)}"
    secrets_file.write_text(json.dumps(content, indent=2))
    click.echo(f"New signing key {kid} added; restart the server to use it.")


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply all migrations."""
    from flask import current_app

    run_upgrade(current_app)
    click.echo("Database is at the newest revision.")


@db_group.command("downgrade")
@click.option("--to", "target", default="base", show_default=True, help="revision to go down to")
@with_appcontext
def db_downgrade(target: str) -> None:
    """Undo migrations (destroys data)."""
    from flask import current_app

    from milepost.migrate import downgrade

    downgrade(url=current_app.config["DATABASE_URL"], target=target)
    click.echo(f"Database is at {target}.")


def served_origin(bind: str, https: bool = False) -> str | None:
    """Return the http(s) origin of a server bound to `bind`, or None when the host is a wildcard."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or host in ("", "0.0.0.0", "[::]", "::"):
        return None
    return f"{'https' if https else 'http'}://{bind}"


@main.command("serve", with_appcontext=False)
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="host:port to listen on")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo", is_flag=True, help="load the demo data set when the database is empty")
@click.option("--no-worker", is_flag=True, help="do not start the job worker (run `milepost worker` elsewhere)")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="serve https with this certificate")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="the certificate's private key")
def serve_command(
    bind: str, workers: int, demo: bool, no_worker: bool, certfile: str | None, keyfile: str | None
) -> None:
    """Migrate, optionally load demo data, and serve with gunicorn beside the job worker.

    With --certfile and --keyfile gunicorn speaks https (phone cameras on the counter pages need a secure
    context on any address but 127.0.0.1; docs/traceability.md shows how to make a LAN certificate)."""
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("give both --certfile and --keyfile, or neither")
    ensure_instance(instance_path())
    # Printed QR codes and demo links must point at this server: on another port than the default, the
    # default PUBLIC_BASE_URL would send every scan to a server that is not there.
    served_at = served_origin(bind, https=bool(certfile))
    if served_at and ENV_PREFIX + "PUBLIC_BASE_URL" not in os.environ:
        os.environ[ENV_PREFIX + "PUBLIC_BASE_URL"] = served_at
    app = _create_app()
    run_upgrade(app)
    from milepost.demo import load_demo_if_empty, print_demo_logins

    with app.app_context():
        if demo:
            # With a worker beside the server, only what the first pages need is built before it answers.
            load_demo_if_empty(app, in_worker=not no_worker)
        else:
            # While the demo data is there, every start prints its logins again (they scroll away with the log).
            print_demo_logins(app)
    from milepost.server import run_gunicorn, start_worker_process, stop_process

    worker = None if no_worker else start_worker_process()
    scheme = "https" if certfile else "http"
    click.echo(f"Milepost on {scheme}://{bind}  (Ctrl-C stops)" + ("" if worker else "; no job worker"))
    try:
        run_gunicorn(bind=bind, workers=workers, certfile=certfile, keyfile=keyfile)
    finally:
        if worker is not None:
            stop_process(worker)


@main.command("worker")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 32), help="jobs run at once")
@with_appcontext
def worker_command(threads: int) -> None:
    """Run the job worker: periodic jobs (roadside rounds, expiries, clean-up) and queued ones."""
    from flask import current_app

    from milepost.jobs import run_worker

    run_worker(current_app._get_current_object(), threads)  # type: ignore[attr-defined]


@main.group("jobs")
def jobs_group() -> None:
    """Background jobs."""


@jobs_group.command("list")
@with_appcontext
def jobs_list() -> None:
    """List the declared jobs with their last run."""
    from app.db import utcnow
    from app.jobs import list_job_status

    def work(session):
        return list_job_status(session, utcnow())

    for job in run_command_quietly(work):
        last = job["last_run"]
        when = (
            f"{last['state']} {last['started_at'] or last['queued_at']} ({last['duration_ms']} ms)" if last else "never"
        )
        every = f"every {job['every_minutes']} min" if job["every_minutes"] else "on demand"
        click.echo(f"{job['name']:40} {every:18} last: {when}; failures 24 h: {job['failures_24h']}")


@jobs_group.command("run")
@click.argument("name")
@with_appcontext
def jobs_run(name: str) -> None:
    """Run one job now, in this process, and print its result."""
    from flask import current_app

    from app.db import SESSIONMAKER_KEY
    from app.jobs import QUEUE_KEY, execute_job, find_job

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        find_job(name)
    except MilepostError as error:
        raise click.ClickException(error.message) from None
    run = execute_job(
        app.extensions[SESSIONMAKER_KEY], app.config, name, queue=app.extensions[QUEUE_KEY], extras=app.extensions
    )
    click.echo(f"{name}: {run.state} in {run.duration_ms} ms {run.result or run.error}")
    if run.state != "succeeded":
        sys.exit(1)


def run_command_quietly(work):
    """Run read-only command work in one transaction."""
    from app.commands import run_command

    return run_command(work)


@main.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.option("--email")
@click.option("--phone")
@click.option("--password", required=True)
@click.option("--role", required=True)
@click.option("--org", "org_code", help="organization code (required for staff)")
@click.option("--name", default="")
@with_appcontext
def users_create(
    email: str | None, phone: str | None, password: str, role: str, org_code: str | None, name: str
) -> None:
    """Create a user."""
    from app.commands import run_command
    from app.crm.customers import register_driver
    from app.crm.organizations import get_organization
    from app.one_time_codes import PhoneProof
    from app.security import Role, create_user

    def work(session):
        if role == Role.DRIVER and phone:
            return register_driver(
                session, name=name or phone, proof=PhoneProof.by_operator(phone), password=password
            ).user
        organization = get_organization(session, org_code, field="org") if org_code else None
        return create_user(
            session,
            role=role,
            password=password,
            email=email,
            phone=phone,
            organization_id=organization.id if organization else None,
            display_name=name,
        )

    user = run_command(work)
    click.echo(f"Created {user.role} user {user.login} (id {user.id})")


@main.command("demo", with_appcontext=False)
@click.option("--size", type=click.Choice(["small", "full"]), default="full", show_default=True)
@click.option("--seed", default=2026, show_default=True, help="random seed (same seed, same data)")
def demo_command(size: str, seed: int) -> None:
    """Create the instance secrets and migrate (as `serve` does), then load the demo data set through the domains'
    own services."""
    from milepost.demo import load_demo

    # On a fresh machine there are no secrets and no schema yet: the demo signs codes and needs the tables.
    ensure_instance(instance_path())
    app = _create_app()
    run_upgrade(app)
    try:
        with app.app_context():
            load_demo(app, size=size, seed=seed)
    finally:
        close_database(app)
