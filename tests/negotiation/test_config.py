"""Store settings: URL forms, password redaction and the process environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from negotiation import ConfigurationError, Negotiations, StoreError
from negotiation.store.config import DEFAULT_DB, ENV_VAR, StoreConfig, redact, resolve
from tests.negotiation.helpers import NEGOTIATION, NOW, opened


@pytest.mark.parametrize("url", ["memory:", ":memory:", "memory://"])
def test_memory_forms(url: str) -> None:
    """The in-memory store has three spellings, all the POPO recorder."""
    config = resolve(url, environ={})
    assert config.kind == "memory"
    assert config.env == {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("negotiations.db", "negotiations.db"),
        ("data/strike.db", "data/strike.db"),
        ("/var/lib/negotiation/all.db", "/var/lib/negotiation/all.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////absolute/path.db", "/absolute/path.db"),
    ],
)
def test_sqlite_forms(url: str, path: str) -> None:
    """A file path or sqlite:///PATH selects the SQLite file store at PATH."""
    config = resolve(url, environ={})
    assert config.kind == "sqlite"
    assert config.url == url
    assert config.env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert config.env["SQLITE_DBNAME"] == path


def test_default_is_a_sqlite_file_in_the_current_directory() -> None:
    """Without --db and NEGOTIATION_DB the store is negotiations.db."""
    config = resolve(None, environ={})
    assert config.kind == "sqlite"
    assert config.env["SQLITE_DBNAME"] == DEFAULT_DB == "negotiations.db"


def test_postgres_form() -> None:
    """postgresql://USER@HOST:PORT/DB?schema=NAME sets every connection setting."""
    config = resolve("postgresql://writer@db.example.org:6543/labor?schema=wga", environ={})
    assert config.kind == "postgres"
    env = config.env
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_USER"], env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("writer", "db.example.org", "6543")
    assert env["POSTGRES_DBNAME"] == "labor"
    assert env["POSTGRES_SCHEMA"] == "wga"
    assert not env["POSTGRES_PASSWORD"]


def test_postgres_defaults() -> None:
    """The port defaults to 5432, the user to postgres, and no schema means the default one."""
    for url in ("postgresql://localhost/test", "postgres://localhost/test"):
        env = resolve(url, environ={}).env
        assert env["POSTGRES_PORT"] == "5432"
        assert env["POSTGRES_USER"] == "postgres"
        assert "POSTGRES_SCHEMA" not in env


def test_postgres_password_and_escapes() -> None:
    """A percent-encoded user, password and database name are decoded."""
    env = resolve("postgresql://wr%40iter:p%40ss%2Fw0rd@h/my%20db", environ={}).env
    assert env["POSTGRES_USER"] == "wr@iter"
    assert env["POSTGRES_PASSWORD"] == "p@ss/w0rd"  # noqa: S105 - a test value, decoded
    assert env["POSTGRES_DBNAME"] == "my db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:relative.db", "sqlite:///PATH"),
        ("sqlite:///", "empty"),
        ("mysql://u:hunter2@h/db", "unknown store"),
        ("postgresql://u:hunter2@h", "DBNAME"),
        ("postgresql:///db", "DBNAME"),
        ("postgresql://u:hunter2@h:port/db", "port"),
        ("postgresql://u:hunter2@h/db?schema=Robert'); DROP TABLE", "schema"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    """A malformed setting raises ConfigurationError saying why, without the password."""
    with pytest.raises(ConfigurationError, match=message) as info:
        resolve(url, environ={})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:secret@h/db?schema=s", "postgresql://u:***@h/db?schema=s"),
        ("postgresql://:secret@h/db", "postgresql://:***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:s%2Fcr%40t@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("/srv/x.db", "/srv/x.db"),
    ],
)
def test_redact_masks_only_the_password(url: str, shown: str) -> None:
    """redact and StoreConfig.display mask the password and keep everything else."""
    assert redact(url) == shown
    if url.startswith("postgresql://"):
        config = resolve(url, environ={})
        assert config.display == shown
        assert "secret" not in repr(config)
        assert "ss@" not in config.display


def test_env_var_chooses_the_store() -> None:
    """NEGOTIATION_DB is used when no --db is given."""
    config = resolve(None, environ={ENV_VAR: "sqlite:////data/env.db"})
    assert config.env["SQLITE_DBNAME"] == "/data/env.db"


def test_db_argument_wins_over_env_var() -> None:
    """--db wins over NEGOTIATION_DB."""
    config = resolve("memory:", environ={ENV_VAR: "postgresql://u@h/db"})
    assert config.kind == "memory"


def test_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit environ, resolve reads NEGOTIATION_DB from os.environ."""
    monkeypatch.setenv(ENV_VAR, "from-env.db")
    assert resolve().env["SQLITE_DBNAME"] == "from-env.db"
    assert resolve("from-arg.db").env["SQLITE_DBNAME"] == "from-arg.db"
    monkeypatch.delenv(ENV_VAR)
    assert resolve().env["SQLITE_DBNAME"] == DEFAULT_DB


def test_eventsourcing_variables_do_not_leak_into_the_setting() -> None:
    """PERSISTENCE_MODULE and POSTGRES_* in the environment do not change the resolved store."""
    stray = {
        "PERSISTENCE_MODULE": "eventsourcing.popo",
        "POSTGRES_DBNAME": "elsewhere",
        "POSTGRES_HOST": "evil.example.org",
        "POSTGRES_SCHEMA": "other",
        "SQLITE_DBNAME": "other.db",
    }
    sqlite = resolve("mine.db", environ=stray)
    assert sqlite.env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert sqlite.env["SQLITE_DBNAME"] == "mine.db"
    postgres = resolve("postgresql://u@h/db", environ=stray)
    assert postgres.env["POSTGRES_DBNAME"] == "db"
    assert postgres.env["POSTGRES_HOST"] == "h"
    assert "POSTGRES_SCHEMA" not in postgres.env


def test_stray_persistence_module_does_not_redirect_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PERSISTENCE_MODULE=eventsourcing.popo in os.environ, a SQLite URL still writes the file."""
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("POSTGRES_DBNAME", "elsewhere")
    monkeypatch.setenv("SQLITE_DBNAME", str(tmp_path / "wrong.db"))
    monkeypatch.setenv("NEGOTIATIONS_SQLITE_DBNAME", str(tmp_path / "wrong-prefixed.db"))
    path = tmp_path / "right.db"
    with Negotiations(f"sqlite:///{path}") as app:
        app.append([opened()], now=NOW)
    assert path.exists()
    assert not (tmp_path / "wrong.db").exists()
    assert not (tmp_path / "wrong-prefixed.db").exists()
    with Negotiations(f"sqlite:///{path}") as again:
        assert [e.id for e in again.events(NEGOTIATION)] == ["open"]


def test_negotiations_uses_env_var_when_no_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negotiations() opens the store named by NEGOTIATION_DB; an explicit db wins."""
    from_env = tmp_path / "env.db"
    from_arg = tmp_path / "arg.db"
    monkeypatch.setenv(ENV_VAR, str(from_env))
    with Negotiations() as app:
        assert app.config.kind == "sqlite"
        app.append([opened()], now=NOW)
    with Negotiations(str(from_arg)) as app:
        assert app.negotiation_ids() == []
    assert from_env.exists()
    assert from_arg.exists()


def test_config_can_be_given_directly() -> None:
    """Negotiations(config=...) uses the given StoreConfig."""
    config = StoreConfig(kind="memory", url="memory:", env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with Negotiations(config=config) as app:
        assert app.config is config
        assert app.position() == 0


def test_cwd_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any setting, Negotiations() creates negotiations.db in the current directory."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with Negotiations() as app:
        app.append([opened()], now=NOW)
    assert (tmp_path / DEFAULT_DB).exists()
    assert os.path.samefile(Path.cwd(), tmp_path)


def test_store_errors_do_not_show_the_password() -> None:
    """A PostgreSQL store that cannot be reached raises StoreError with the password masked."""
    with pytest.raises(StoreError) as info:
        Negotiations("postgresql://writer:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(info.value)
    assert "writer:***@127.0.0.1:1" in str(info.value)


def test_postgres_connect_timeout_is_read_from_the_url() -> None:
    """``?connect_timeout=S`` sets the seconds per connection attempt; 5 by default."""
    assert resolve("postgresql://u@h/db").env["POSTGRES_CONNECT_TIMEOUT"] == "5"
    assert resolve("postgresql://u@h/db?connect_timeout=1").env["POSTGRES_CONNECT_TIMEOUT"] == "1"


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_postgres_connect_timeout_must_be_positive_seconds(value: str) -> None:
    """A connect timeout that is not a whole number of seconds >= 1 is a configuration error."""
    with pytest.raises(ConfigurationError):
        resolve(f"postgresql://u@h/db?connect_timeout={value}")


def test_a_command_opens_one_postgres_connection_and_pings_none() -> None:
    """``for_one_command``: a pool of one connection at first, no ping before each use; nothing else changes."""
    config = resolve("postgresql://writer:pw@db.example.org/labor?schema=wga&sslmode=require", environ={})
    one = config.for_one_command()
    assert one.env["POSTGRES_POOL_SIZE"] == "1"
    assert one.env["POSTGRES_PRE_PING"] == "n"
    assert config.env["POSTGRES_PRE_PING"] == "y"  # a server's own: the setting itself is not changed
    assert "POSTGRES_POOL_SIZE" not in config.env
    changed = {"POSTGRES_POOL_SIZE", "POSTGRES_PRE_PING"}
    assert {k: v for k, v in one.env.items() if k not in changed} == {
        k: v for k, v in config.env.items() if k not in changed
    }
    assert (one.kind, one.url, one.secrets, one.display) == (config.kind, config.url, config.secrets, config.display)


@pytest.mark.parametrize("url", ["memory:", "sqlite:///tmp/x.db"])
def test_a_command_opens_other_stores_as_they_are(url: str) -> None:
    config = resolve(url, environ={})
    assert config.for_one_command() is config


@pytest.mark.postgres
def test_a_command_s_postgres_pool_grows_when_asked_for_more(postgres_url: str) -> None:
    """One connection at first; a second thread asking meanwhile gets another, and both are answered."""
    import threading

    with Negotiations(config=resolve(postgres_url).for_one_command()) as app:
        datastore = app.store.factory.datastore  # type: ignore[attr-defined]  # PostgresFactory
        pool = datastore.pool
        assert (pool.min_size, pool.max_size, datastore.pre_ping) == (1, 11, False)
        answers: list[int] = []
        inside = threading.Barrier(2, timeout=10)

        def ask() -> None:
            with datastore.get_connection() as conn:
                inside.wait()  # both connections in use at once
                answers.append(conn.execute("SELECT 1").fetchone()["?column?"])

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert answers == [1, 1]
        assert pool.get_stats()["pool_size"] == 2
