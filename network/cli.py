"""Network commands for the `milepost` CLI: highways, shops import, roadside rounds, coverage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from network import coverage, rounds
from network.highways import DATA_FILE, SOURCE, import_highways, load_route_network
from network.search import load_shop_index
from network.settings import network_settings
from network.shops import import_shops, read_shop_rows, resnap_shops


def _run(work: Callable[[Session], str]) -> None:
    """Run `work` in one transaction and print its message (errors: app.commands prints them, exit 2)."""
    click.echo(run_command(work))


@click.group("highways")
def highways_group() -> None:
    """Expressway routes."""


@highways_group.command("import")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def highways_import(path: Path | None) -> None:
    """Replace the routes with a GeoJSON file (default: the data set shipped with Milepost), then re-snap shops."""
    settings = network_settings(current_app.config)

    def work(session: Session) -> str:
        source = SOURCE if path is None else path.name
        highways = import_highways(session, (path or DATA_FILE).read_bytes(), source=source)
        on_route = resnap_shops(session, load_route_network(session), settings.snap_km)
        total = sum(highway.length_km for highway in highways)
        return f"Imported {len(highways)} routes ({total:,.0f} km); {on_route} shops are on a route."

    _run(work)


@click.group("shops")
def shops_group() -> None:
    """Service shops."""


@shops_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def shops_import(path: Path) -> None:
    """Add the shops of a CSV or GeoJSON file: all of them, or none when any row has an error."""
    settings = network_settings(current_app.config)

    def work(session: Session) -> str:
        rows = read_shop_rows(path.read_text(encoding="utf-8-sig"), path.name)
        shops = import_shops(session, rows, load_route_network(session), settings.snap_km)
        on_route = sum(shop.highway_id is not None for shop in shops)
        return f"Imported {len(shops)} shops; {on_route} are within {settings.snap_km:g} km of a route."

    _run(work)


@click.group("assistance")
def assistance_group() -> None:
    """Roadside assistance."""


@assistance_group.command("advance")
@with_appcontext
def assistance_advance() -> None:
    """Widen or escalate roadside requests nobody accepted in time (run every minute from cron)."""
    settings = network_settings(current_app.config)

    def work(session: Session) -> str:
        changed = rounds.advance_requests(session, load_shop_index(session), settings)
        return f"{changed} roadside requests moved to a wider radius or to the OEM."

    _run(work)


@click.command("coverage")
@click.option("--radius", "radius_km", type=click.FloatRange(min=0.1, max=500), help="km; default COVERAGE_RADIUS_KM")
@click.option("--all-shops", is_flag=True, help="count every active shop, not only certified ones")
@click.option("--recommend", default=10, show_default=True, type=click.IntRange(0, 100), help="new sites to suggest")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False, path_type=Path), help="write gaps and sites")
@with_appcontext
def coverage_command(radius_km: float | None, all_shops: bool, recommend: int, geojson_path: Path | None) -> None:
    """Show expressway coverage per route and province, the longest gaps and recommended new sites."""
    settings = network_settings(current_app.config)
    radius = radius_km or settings.coverage_radius_km
    session: Session = current_app.extensions["milepost.sessionmaker"]()
    try:
        routes = load_route_network(session)
        if not routes.routes:
            raise click.ClickException("no highways; run `milepost highways import` first")
        samples = coverage.build_samples(routes, settings.corridor_km)
        lats, lons = coverage.eligible_shops(session, certified_only=not all_shops)
        covered = coverage.covered_samples(samples, lats, lons, radius)
        report = coverage.coverage_report(samples, covered, routes, radius)
        gaps = coverage.find_gaps(samples, covered, routes)
        sites = coverage.recommend_sites(samples, covered, radius, recommend, routes) if recommend else []
        capacity = coverage.capacity_by_province(session)
    finally:
        session.close()
    kind = "all active" if all_shops else "certified"
    click.echo(f"Coverage within {radius:g} km of {len(lats)} {kind} shops")
    click.echo(
        f"Total {report['total_km']:,.0f} km, covered {report['covered_km']:,.0f} km ({report['percent']:.1f} %)"
    )
    click.echo(f"\n{'route':<6} {'km':>8} {'covered':>8} {'%':>6}  {'shared':>7}")
    for row in report["routes"]:
        click.echo(
            f"{row['code']:<6} {row['total_km']:>8,.0f} {row['covered_km']:>8,.0f} {row['percent']:>6.1f}  "
            f"{row['shared_km']:>7,.0f}"
        )
    click.echo(f"\n{'province':<16} {'km':>8} {'covered':>8} {'%':>6}")
    for row in report["provinces"]:
        click.echo(f"{row['province']:<16} {row['total_km']:>8,.0f} {row['covered_km']:>8,.0f} {row['percent']:>6.1f}")
    click.echo(f"\nLongest gaps ({len(gaps)} in all)")
    for gap in gaps[:10]:
        click.echo(f"  {gap['route']:<5} km {gap['from_km']:>7.1f} - {gap['to_km']:>7.1f}  {gap['length_km']:>6.1f} km")
    if sites:
        click.echo("\nRecommended new sites")
        for site in sites:
            click.echo(
                f"  {site['rank']:>2}. {site['route']:<5} km {site['km']:>7.1f} ({site['lat']:.4f}, {site['lon']:.4f}) "
                f"{site['province']:<14} +{site['gain_km']:,.0f} km -> {site['cumulative_percent']:.1f} %"
            )
    click.echo(f"\n{'province':<16} {'trucks':>7} {'shops':>6} {'bays':>6} {'trucks/bay':>10}")
    for row in capacity:
        per_bay = "no bays" if row["trucks_per_bay"] is None else f"{row['trucks_per_bay']:.1f}"
        click.echo(f"{row['province']:<16} {row['vehicles']:>7} {row['shops']:>6} {row['bays']:>6} {per_bay:>10}")
    if geojson_path is not None:
        features = coverage.gaps_to_geojson(gaps, routes)["features"]
        for site in sites:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"kind": "recommended_site", **site},
                    "geometry": {"type": "Point", "coordinates": [site["lon"], site["lat"]]},
                }
            )
        geojson_path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
        click.echo(f"\nWrote {len(gaps)} gaps and {len(sites)} sites to {geojson_path}")


COMMANDS: list[click.Command] = [highways_group, shops_group, assistance_group, coverage_command]
