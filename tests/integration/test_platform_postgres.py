"""The platform's own PostgreSQL takes SQL."""

from __future__ import annotations

import sqlalchemy as sa

from simpul.settings import Settings


def test_sql_round_trip(settings: Settings, unique: str) -> None:
    engine = sa.create_engine(settings.postgres)
    table = f"probe_{unique}"
    with engine.begin() as conn:
        assert conn.execute(sa.text("select 1")).scalar_one() == 1
        conn.execute(sa.text(f"create table {table} (regency_code char(4) primary key, events int not null)"))
        conn.execute(sa.text(f"insert into {table} values ('3374', 5), ('3301', 7)"))
        conn.execute(sa.text(
            f"insert into {table} values ('3374', 3) on conflict (regency_code) "
            "do update set events = {t}.events + excluded.events".format(t=table)))
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text(f"select regency_code, events from {table}")).all())
        version = conn.execute(sa.text("show server_version")).scalar_one()
    engine.dispose()
    assert rows == {"3374": 8, "3301": 7}
    assert int(version.split(".")[0]) >= 13
