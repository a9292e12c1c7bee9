"""Backup and restore, timed (docs/scale.md, "Backup and restore"): pg_dump, pg_restore, then `milepost chain verify`.

    python -m bench.backup_roundtrip postgresql+psycopg://postgres@127.0.0.1:5432/milepost_bench [--jobs 2]

Dumps the database in directory format with `--jobs` parallel workers, restores it into a new database beside
it (`<name>_restored`), compares the row counts of the big tables, and verifies every custody chain of the
restored copy with the bench keys (bench.generate.KEYS). The copy and the dump are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.generate import BULK_TABLES, KEYS


def libpq(url: str, database: str | None = None) -> list[str]:
    parsed = make_url(url)
    return ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
            "-d", database or parsed.database]  # fmt: skip


def timed(command: list[str], **options) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, **options)
    return time.perf_counter() - start


def counts(url: str) -> dict[str, int]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in BULK_TABLES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backup_roundtrip", description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args(argv)
    url = arguments.url
    name = make_url(url).database
    restored = make_url(url).set(database=f"{name}_restored").render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="mp-dump-"))
    dump = folder / "dump"
    server = libpq(url, "postgres")
    load = [os.getloadavg()[0]]
    try:
        dumped = timed(["pg_dump", "-Fd", "-j", str(arguments.jobs), "-f", str(dump), *libpq(url)])
        load.append(os.getloadavg()[0])
        size = sum(path.stat().st_size for path in dump.iterdir())
        subprocess.run(["psql", *server, "-qc", f'DROP DATABASE IF EXISTS "{name}_restored"'], check=True)
        subprocess.run(["psql", *server, "-qc", f'CREATE DATABASE "{name}_restored"'], check=True)
        restoring = ["pg_restore", "-j", str(arguments.jobs), "--no-owner", *libpq(url, f"{name}_restored")]
        restored_in = timed([*restoring, str(dump)])
        load.append(os.getloadavg()[0])
        same = counts(url) == counts(restored)
        environment = dict(
            os.environ,
            MILEPOST_DATABASE_URL=restored,
            MILEPOST_CODE_KEYS=KEYS,
            MILEPOST_SECRET_KEY="bench-only",
            MILEPOST_INSTANCE_PATH=str(folder / "instance"),
        )
        milepost = str(Path(sys.executable).parent / "milepost")
        start = time.perf_counter()
        verify = subprocess.run([milepost, "chain", "verify"], env=environment, capture_output=True, text=True)
        verified = time.perf_counter() - start
        load.append(os.getloadavg()[0])
    finally:
        subprocess.run(["psql", *server, "-qc", f'DROP DATABASE IF EXISTS "{name}_restored" WITH (FORCE)'])
        shutil.rmtree(folder, ignore_errors=True)
    print(f"database               {name}")
    print(f"pg_dump -Fd -j {arguments.jobs}        {dumped:7.1f} s, {size / 2**20:,.0f} MB")
    print(f"pg_restore -j {arguments.jobs}         {restored_in:7.1f} s (tables, indexes, keys)")
    print(f"row counts             {'identical' if same else 'DIFFERENT'} in the {len(BULK_TABLES)} big tables")
    print(f"milepost chain verify  {verified:7.1f} s, exit {verify.returncode}: {verify.stdout.strip()[-300:]}")
    print(f"load average (1 min)   {', '.join(f'{value:.1f}' for value in load)} (start, after each step)")
    if verify.returncode != 0 or not same:
        print(verify.stderr[-2000:], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
