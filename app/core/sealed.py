"""Where secrets sealed with SecretBox are stored, so a key rotation can re-seal them all.

Rotation: set SECRET_KEY to the new key and PREVIOUS_SECRET_KEY to the old one, restart
(both keys open stored values meanwhile), then run `devopness-server reencrypt-secrets`;
once it reports nothing left under the old key, PREVIOUS_SECRET_KEY can be removed.
Each domain registers its sealed columns next to its models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from sqlalchemy import column, select, table, update

from app.core.database import Database
from app.core.security import SecretBox


@dataclass(frozen=True)
class SealedColumn:
    table: str
    key: str
    column: str


_COLUMNS: list[SealedColumn] = [
    # The environments' SSH private keys (tenancy's package) are sealed the same way.
    SealedColumn("environments", "id", "ssh_private_key_encrypted"),
]


def register_sealed_column(table_name: str, key: str, column_name: str) -> None:
    entry = SealedColumn(table_name, key, column_name)
    if entry not in _COLUMNS:
        _COLUMNS.append(entry)


def sealed_columns() -> list[SealedColumn]:
    return list(_COLUMNS)


@dataclass
class ReencryptReport:
    resealed: dict[str, int] = field(default_factory=dict)
    current: int = 0
    unreadable: list[str] = field(default_factory=list)


async def reencrypt_all(database: Database, *, dry_run: bool = False) -> ReencryptReport:
    """Re-seal with SECRET_KEY every value still sealed with PREVIOUS_SECRET_KEY."""
    box = SecretBox(database.settings)
    report = ReencryptReport()
    async with database.transaction() as session:
        for sealed in _COLUMNS:
            t = table(sealed.table, column(sealed.key), column(sealed.column))
            rows = (
                await session.execute(
                    select(t.c[sealed.key], t.c[sealed.column]).where(
                        t.c[sealed.column].is_not(None)
                    )
                )
            ).all()
            name = f"{sealed.table}.{sealed.column}"
            for key, value in rows:
                if box.sealed_with_current_key(value):
                    report.current += 1
                    continue
                try:
                    plain = box.decrypt(value)
                except (InvalidTag, ValueError):
                    report.unreadable.append(f"{name}[{key}]")
                    continue
                report.resealed[name] = report.resealed.get(name, 0) + 1
                if not dry_run:
                    await session.execute(
                        update(t)
                        .where(t.c[sealed.key] == key)
                        .values({sealed.column: box.encrypt(plain)})
                    )
    return report
