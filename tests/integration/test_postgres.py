"""PostgreSQL is reachable with the project's settings."""

import psycopg

from services.settings import Settings


def test_postgres_accepts_the_projects_credentials():
    with psycopg.connect(Settings().postgres_dsn(), connect_timeout=5) as conn:
        (version,) = conn.execute("SHOW server_version").fetchone()

    assert version.startswith("15")
