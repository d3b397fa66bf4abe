from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.core.migrations import head_revision
from taskboard.models import Base


async def test_migrations_build_exactly_the_models(engine: AsyncEngine) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        assert context.get_current_revision() == head_revision()
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def test_every_constraint_and_index_is_named() -> None:
    for table in Base.metadata.sorted_tables:
        for item in [*table.constraints, *table.indexes]:
            assert item.name, f"unnamed {type(item).__name__} on {table.name}"
