"""What PostgreSQL's own log tells: the SQL one HTTP create runs, and the connections a
phase opened."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from benchkit.http1 import Pool
from taskboard.embedded.servers import EmbeddedPostgres
from write.load_http import API


def postgres_log(pg: EmbeddedPostgres) -> Path:
    return pg.data_dir / "postgres.log"


async def trace_one_create(
    pg: EmbeddedPostgres, client: Pool, headers: dict[str, str], board: uuid.UUID
) -> list[str]:
    """The SQL statements one HTTP create runs, from PostgreSQL's own statement log."""
    log = postgres_log(pg)
    conn = await asyncpg.connect(pg.url)
    try:
        await conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.3)
        start = log.stat().st_size
        response = await client.post(
            f"{API}/boards/{board}/tasks", json_body={"title": "traced"}, headers=headers
        )
        response.expect(201)
        await asyncio.sleep(0.3)
        await conn.execute("ALTER SYSTEM RESET log_statement")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()
    statements = []
    for record in log_records(log, start):
        if "LOG:  " not in record:
            continue
        sql = record.split("LOG:  ", 1)[1]
        if not sql.startswith(("statement: ", "execute ")):
            continue
        sql = sql.split(": ", 1)[1]
        if "pg_reload_conf" in sql or "ALTER SYSTEM" in sql:
            continue
        statements.append(" ".join(sql.split()))
    return statements


def log_records(log: Path, offset: int) -> list[str]:
    """The log's records from `offset` on, one per entry: a statement's continuation lines
    joined to the line that starts with its timestamp."""
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    records: list[str] = []
    for line in text.splitlines():
        if line[:4].isdigit() and line[4:5] == "-":
            records.append(line)
        elif records:
            records[-1] += " " + line.strip()
    return records


def connections_since(log: Path, offset: int) -> int:
    with log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().count(b"connection received:")
