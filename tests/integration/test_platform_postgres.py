"""The platform's own PostgreSQL takes SQL: the owner role creates a table, the application role reads and writes it
(its default privileges), and neither URL shows its password when printed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from simpul.platform.postgres import masked
from simpul.settings import Settings


def test_sql_round_trip(settings: Settings, unique: str) -> None:
    owner = sa.create_engine(settings.postgres_owner)
    app = sa.create_engine(settings.postgres)
    table = f"probe_{unique}"
    try:
        with owner.begin() as conn:
            conn.execute(sa.text(f"create table {table} (regency_code char(4) primary key, events int not null)"))
        with app.begin() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            conn.execute(sa.text(f"insert into {table} values ('3374', 5), ('3301', 7)"))
            conn.execute(sa.text(
                f"insert into {table} values ('3374', 3) on conflict (regency_code) "
                "do update set events = {t}.events + excluded.events".format(t=table)))
        with app.connect() as conn:
            rows = dict(conn.execute(sa.text(f"select regency_code, events from {table}")).all())
            version = conn.execute(sa.text("show server_version")).scalar_one()
    finally:
        with owner.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {table}"))
        owner.dispose()
        app.dispose()
    assert rows == {"3374": 8, "3301": 7}
    assert int(version.split(".")[0]) >= 13


def test_printed_urls_hide_the_password(settings: Settings) -> None:
    for url in (settings.postgres, settings.postgres_owner):
        password = make_url(url).password
        if settings.postgres_url is None:
            assert password, "the platform's URL carries the role's password from the secrets folder"
        if password:
            assert password not in masked(url) and "***" in masked(url)
            assert password not in repr(settings) and password not in settings.model_dump_json()
