"""COPY helpers for the data generator: text-format rows, streamed COPY, and index set-aside while loading."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import psycopg

# Rows buffered per COPY write: large enough that the protocol overhead vanishes, small enough to stream.
WRITE_ROWS = 20_000


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def _json(value: object) -> str:
    return _escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# One formatter per Python type: a dict lookup instead of a chain of isinstance checks (the generator
# formats a few hundred million fields).
FORMATS = {
    str: _escape,
    int: str,
    float: repr,
    Decimal: str,
    bool: lambda value: "t" if value else "f",
    datetime: datetime.isoformat,
    date: date.isoformat,
    dict: _json,
    list: _json,
    type(None): lambda value: "\\N",
}


def copy_line(row: Sequence[object]) -> str:
    """Return one COPY text-format line (tab-separated, \\N for NULL)."""
    return "\t".join([FORMATS[type(value)](value) for value in row]) + "\n"


def copy_rows(connection: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Stream `rows` into `table` with COPY; return how many were written."""
    written = 0
    buffer: list[str] = []
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            buffer.append(copy_line(row))
            if len(buffer) == WRITE_ROWS:
                copy.write("".join(buffer))
                written += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            written += len(buffer)
    return written


def set_aside_indexes(connection: psycopg.Connection, tables: Sequence[str]) -> list[str]:
    """Drop the foreign keys, unique and primary keys and indexes of `tables` (of a partitioned table: on the
    parent, which takes its partitions' along); return the statements that rebuild them exactly as the
    migrations made them (primary keys, then unique, then indexes, then foreign keys). Loading into bare
    tables and indexing once is several times faster than indexing per row."""
    rebuild: dict[str, list[str]] = {"p": [], "u": [], "i": [], "f": []}
    drops: list[str] = []
    with connection.cursor() as cursor:
        # Foreign keys pointing at or from these tables go first: keys they rely on are dropped below.
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
                 FROM pg_constraint
                WHERE contype IN ('p', 'u', 'f') AND conparentid = 0
                  AND (conrelid::regclass::text = ANY(%(t)s) OR confrelid::regclass::text = ANY(%(t)s))""",
            {"t": list(tables)},
        )
        constraints = cursor.fetchall()
        for table, name, kind, definition in sorted(constraints, key=lambda row: row[2] != "f"):
            if kind != "f" and table not in tables:
                continue
            drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            rebuild[kind].append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            """SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE indrelid::regclass::text = ANY(%(t)s)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)
                  AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = indexrelid)""",
            {"t": list(tables)},
        )
        for name, definition in cursor.fetchall():
            drops.append(f"DROP INDEX {name}")
            # A partitioned table's index reads ON ONLY (the parent alone): rebuild it on every partition.
            rebuild["i"].append(definition.replace(" ON ONLY ", " ON "))
        for statement in drops:
            cursor.execute(statement)
    return rebuild["p"] + rebuild["u"] + rebuild["i"] + rebuild["f"]


def reset_sequences(connection: psycopg.Connection, tables: Sequence[str]) -> None:
    """Move each table's id sequence past its largest id (rows were copied with explicit ids)."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
