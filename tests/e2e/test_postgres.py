"""The throwaway PostgreSQL (scripts/postgres.py) and the fixtures on it, with real values."""

from __future__ import annotations

import urllib.request
import uuid

import psycopg

from postgres import libpq_url

from conftest import MLFLOW_PG_DB, client_for


def test_database_survives_a_restart_and_takes_any_password(postgres, fresh_db):
    url = fresh_db("pg test")
    name = url.rsplit("/", 1)[1]
    assert name.startswith("pg_test_")
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")  # committed when the block ends

    postgres.restart()
    with psycopg.connect(libpq_url(url)) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]

    # Trust auth: a URL with a password (here one that needs quoting) connects too.
    with_password = postgres.url(name, password="any p@ss/word:")
    assert ":any%20p%40ss%2Fword%3A@" in with_password
    with psycopg.connect(libpq_url(with_password)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)


def test_mlflow_pg_server_keeps_its_experiments_in_postgres(postgres, mlflow_pg_server):
    with urllib.request.urlopen(f"{mlflow_pg_server}/health", timeout=10) as response:
        assert response.status == 200
    name = f"pg-{uuid.uuid4().hex[:8]}"
    experiment_id = client_for(mlflow_pg_server).create_experiment(name)

    with psycopg.connect(libpq_url(postgres.url(MLFLOW_PG_DB))) as conn:
        rows = conn.execute(
            "SELECT experiment_id FROM experiments WHERE name = %s", (name,)
        ).fetchall()
    assert rows == [(int(experiment_id),)]
