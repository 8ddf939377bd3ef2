"""Audit on SQLite and PostgreSQL: the history and point-in-time commands, verification, and
tamper evidence (rows edited, deleted or reordered directly in the database), and version-1
events that still replay through their upcaster."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from events.commands import COMMANDS
from events.ledger import CreditsGranted
from projections import maintenance
from projections.settings import ProjectorSettings
from services.cli import app
from services.ledger.catalog_file import load_catalog
from services.ledger.chain import link
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.ledger.upcasting import unseal
from tests.unit.core import scenario as s

V1_STREAM = Path(__file__).parent.parent / "data" / "v1_stream.json"
ACCOUNT = "acct-1"
FIRST = "audit-renewal"


@pytest.fixture
def ledger_store(store_settings):
    store = LedgerStore(store_settings)
    ledger = Ledger(store, load_catalog(), max_message_bytes=65536)
    commands = [
        s.renewed("solo", command_id=FIRST),
        s.used("content_analysis", units=95),
        s.bought("small"),
        s.used("article_generation", at=2),
        s.used("keyword_suggestions", at=3),
    ]
    for offset, command in enumerate(commands):
        record = Incoming(
            "commands", 0, offset, ACCOUNT.encode(), command.model_dump_json().encode()
        )
        ledger.commit(ledger.decide_batch([record]))
    maintenance.rebuild(projector_settings(store_settings))  # the read model, as the projector
    yield store
    store.close()


def projector_settings(settings) -> ProjectorSettings:
    return ProjectorSettings(**settings.model_dump())


def credits(store_settings, *args: str) -> tuple[int, str]:
    env = {
        "KALEMA_EVENT_STORE": store_settings.event_store,
        "KALEMA_TOPIC_PREFIX": store_settings.topic_prefix,
        "KALEMA_SQLITE_PATH": str(store_settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": store_settings.postgres_schema,
        "KALEMA_LEDGER_CHAIN_KEY": store_settings.ledger_chain_key.get_secret_value(),
        "KALEMA_LEDGER_CHAIN_KEYS": json.dumps(
            {k: v.get_secret_value() for k, v in store_settings.ledger_chain_keys.items()}
        ),
        "KALEMA_LEDGER_CHAIN_KEY_ID": store_settings.ledger_chain_key_id,
        "KALEMA_LEDGER_CHAIN_KEYED_SINCE": (
            store_settings.ledger_chain_keyed_since.isoformat()
            if store_settings.ledger_chain_keyed_since
            else None  # unset
        ),
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def sql(settings, statement: str, *params) -> list[tuple]:
    """Run SQL straight against the event store, as someone with database access could."""
    table = "stored_events" if settings.event_store == "sqlite" else "ledger_events"
    statement = statement.replace("stored_events", table)
    if settings.event_store == "sqlite":
        with sqlite3.connect(settings.sqlite_path) as conn:
            return conn.execute(statement, params).fetchall()
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {settings.postgres_schema}")
        cursor = conn.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def edit(settings, version: int, old: bytes, new: bytes) -> None:
    """Rewrite one stored event's bytes in place."""
    ((state,),) = sql(
        settings,
        "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?",
        ACCOUNT,
        version,
    )
    assert old in bytes(state)
    sql(
        settings,
        "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
        bytes(state).replace(old, new),
        ACCOUNT,
        version,
    )


def test_audit_shows_the_full_history_with_running_balances(ledger_store, store_settings):
    code, output = credits(store_settings, "audit", ACCOUNT, "--json")

    rows = json.loads(output)
    assert code == 0
    assert [(r["event"], r["subscription"], r["purchased"], r["total"]) for r in rows] == [
        ("CycleStarted", 980, 0, 980),
        ("ToolUsed", 30, 0, 30),
        ("PackagePurchased", 30, 1000, 1030),
        ("ToolUsed", 0, 980, 980),
        ("ToolUsed", 0, 979, 979),
    ]
    code, table = credits(store_settings, "audit", ACCOUNT)
    assert code == 0 and "article_generation x1 at 50: -50" in table
    code, csv_text = credits(store_settings, "audit", ACCOUNT, "--csv")
    assert csv_text.splitlines()[0].startswith("version,at,command_id,event,what")
    assert len(csv_text.splitlines()) == 6


def test_audit_at_an_instant_answers_what_the_balance_was_then(ledger_store, store_settings):
    code, output = credits(
        store_settings, "audit", ACCOUNT, "--at", "2026-11-02T12:00:00+00:00", "--json"
    )

    summary = json.loads(output)
    assert code == 0
    assert (summary["version"], summary["subscription"], summary["purchased"]) == (3, 30, 1000)
    code, _ = credits(store_settings, "audit", "acct-nobody")
    assert code == 1


def test_verify_passes_on_an_untouched_store(ledger_store, store_settings):
    assert credits(store_settings, "verify", "--chain") == (0, "all accounts verified\n")


def test_verify_detects_an_event_edited_in_the_database(ledger_store, store_settings):
    edit(store_settings, 2, b'"credits":950', b'"credits":95')

    code, output = credits(store_settings, "verify", "--chain")

    assert code == 1
    assert f"{ACCOUNT}: chain: event 2 was altered or moved" in output


def test_verify_detects_an_event_deleted_from_the_database(ledger_store, store_settings):
    sql(
        store_settings,
        "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 3",
        ACCOUNT,
    )

    code, output = credits(store_settings, "verify", "--chain")

    assert code == 1 and "version 3 is missing" in output


def index_key(settings, prefix: str) -> str:
    ((key,),) = sql(settings, "SELECT key FROM ledger_index WHERE key LIKE ?", prefix + "%")
    return key


@pytest.mark.parametrize("prefix", ["payment:", f"cmd:{FIRST}"], ids=["payment", "command"])
def test_verify_detects_a_history_index_row_deleted_from_the_database(
    ledger_store, store_settings, prefix
):
    key = index_key(store_settings, prefix)  # without it, it would apply again
    sql(store_settings, "DELETE FROM ledger_index WHERE account_id = ? AND key = ?", ACCOUNT, key)

    code, output = credits(store_settings, "verify", "--no-read-model")

    assert code == 1
    assert f"{ACCOUNT}: index: key '{key}' is missing" in output


def test_verify_detects_a_history_index_row_moved_or_invented(ledger_store, store_settings):
    payment = index_key(store_settings, "payment:")
    sql(store_settings, "UPDATE ledger_index SET version = 1 WHERE key = ?", payment)
    sql(
        store_settings,
        "INSERT INTO ledger_index (account_id, key, version) VALUES (?, ?, ?)",
        ACCOUNT,
        "cmd:never-sent",
        2,
    )

    code, output = credits(store_settings, "verify", "--no-read-model")

    assert code == 1
    assert f"{ACCOUNT}: index: key '{payment}' points at version 1" in output
    assert f"{ACCOUNT}: index: key 'cmd:never-sent' answers no event of the log" in output


def test_verify_detects_events_reordered_in_the_database(ledger_store, store_settings):
    sql(
        store_settings,
        "UPDATE stored_events SET originator_version = -originator_version "
        "WHERE originator_id = ? AND originator_version IN (4, 5)",
        ACCOUNT,
    )
    sql(
        store_settings,
        "UPDATE stored_events SET originator_version = 9 + originator_version "
        "WHERE originator_id = ? AND originator_version IN (-4, -5)",
        ACCOUNT,
    )

    code, output = credits(store_settings, "verify", "--chain")

    assert code == 1 and "event 4 was altered or moved" in output


def test_version_1_events_still_replay_through_their_upcaster(store_settings):
    store = LedgerStore(store_settings)
    rows = json.loads(V1_STREAM.read_text())["rows"]
    for row in rows:
        sql(
            store_settings,
            "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
            row["originator_id"],
            row["originator_version"],
            row["topic"],
            row["state"].encode(),
        )
    store.rebuild_index()  # as a store opened on streams from before the index does

    maintenance.rebuild(projector_settings(store_settings))
    stream = store.stream("acct-v1")

    purchase = stream[1].event
    assert (purchase.type, purchase.currency, purchase.price_cents) == (
        "PackagePurchased",
        "USD",
        5000,
    )
    assert store.load("acct-v1").version == 3
    assert credits(store_settings, "verify", "--chain") == (0, "all accounts verified\n")
    next_use = COMMANDS.validate_python(
        {
            **json.loads(s.used(at=0).model_dump_json()),
            "account_id": "acct-v1",
            "occurred_at": "2026-06-05T00:00:00Z",
        }
    )
    ledger = Ledger(store, load_catalog(), max_message_bytes=65536)
    batch = ledger.decide_batch(
        [Incoming("commands", 0, 0, b"acct-v1", next_use.model_dump_json().encode())]
    )
    assert batch.outcomes[0].balance.total == 1930 - 50
    store.close()


def test_verify_detects_a_snapshot_that_differs_from_the_replay(ledger_store, store_settings):
    state, head = ledger_store.load_with_head(ACCOUNT)
    ledger_store.save_snapshots([(ACCOUNT, state._replace(plan="agency"), head)])

    code, output = credits(store_settings, "verify")

    assert code == 1
    assert f"{ACCOUNT}: snapshot: snapshot at version 5 differs from replay" in output


def test_verify_detects_latest_events_removed_by_comparing_with_the_read_model(
    ledger_store, store_settings
):
    for table, version in (("stored_events", "originator_version"), ("ledger_index", "version")):
        sql(store_settings, f"DELETE FROM {table} WHERE {version} = 5")  # event and its keys

    assert credits(store_settings, "verify", "--chain", "--no-read-model")[0] == 0  # still whole
    code, output = credits(store_settings, "verify", "--chain")

    assert code == 1 and f"read model: {ACCOUNT}" in output


def test_index_rebuild_reindexes_every_event_so_old_commands_are_repeats_again(
    ledger_store, store_settings
):
    sql(store_settings, "DELETE FROM ledger_index")
    assert ledger_store.recall([(ACCOUNT, f"cmd:{FIRST}")]) == {}

    code, output = credits(store_settings, "index", "rebuild")

    assert code == 0 and f"indexed {ledger_store.load(ACCOUNT).version} events" in output
    assert ledger_store.recall([(ACCOUNT, f"cmd:{FIRST}")]) != {}


HOSTILE_REASON = (
    "[bold red]sorry[/] \x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \u202eevil"
)


def test_hostile_text_in_a_grant_is_shown_inert_and_csv_formulas_are_neutralised(
    ledger_store, store_settings
):
    # The wire refuses control characters in a reason today; a stream stored before it did
    # may hold them, and the audit must show them inert all the same.
    state, head = ledger_store.load_with_head(ACCOUNT)
    grant = CreditsGranted(
        command_id="=1+2",
        occurred_at=s.day(4),
        lot_id="grant:=1+2",
        credits=10,
        expires_at=None,
        reason=HOSTILE_REASON,
    )
    ledger_store.append([ledger_store.seal(ACCOUNT, state.version + 1, grant, head)])

    code, table = credits(store_settings, "audit", ACCOUNT)
    _, csv_text = credits(store_settings, "audit", ACCOUNT, "--csv")
    _, as_json = credits(store_settings, "audit", ACCOUNT, "--json")

    assert code == 0
    assert "\x1b" not in table and "\x07" not in table and "\u202e" not in table
    assert "[bold red]sorry[/]" in table  # the markup is shown, not applied
    assert "\\x1b[2J" in table and "\\u202e" in table
    assert "\x1b" not in csv_text
    assert ",'=1+2,CreditsGranted," in csv_text
    assert json.loads(as_json)[-1]["what"] == f"granted 10: {HOSTILE_REASON}"  # JSON escapes


CHAIN_KEY = "chain-key-from-the-secret-store"


KEYING_BEGAN = s.day(3.5)


def keyed(settings, since=KEYING_BEGAN):
    return settings.model_copy(
        update={"ledger_chain_key": SecretStr(CHAIN_KEY), "ledger_chain_keyed_since": since}
    )


def decide_more(settings, *commands, first_offset: int = 100) -> None:
    store = LedgerStore(settings)
    try:
        ledger = Ledger(store, load_catalog(), max_message_bytes=65536)
        for offset, command in enumerate(commands, start=first_offset):
            payload = command.model_dump_json().encode()
            ledger.commit(
                ledger.decide_batch([Incoming("commands", 0, offset, ACCOUNT.encode(), payload)])
            )
    finally:
        store.close()


def rechain_without_a_key(settings) -> None:
    """What anyone with database access could do to a plain SHA-256 chain: edit an event and
    recompute every link after it."""
    rows = sql(
        settings,
        "SELECT originator_version, state FROM stored_events WHERE originator_id = ? "
        "ORDER BY originator_version",
        ACCOUNT,
    )
    previous = ""
    for version, state in rows:
        _, payload = unseal(bytes(state))
        payload = payload.replace(b'"credits":1000', b'"credits":9000')
        previous = link(previous, ACCOUNT, version, payload)
        sql(
            settings,
            "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
            b"sha256:" + previous.encode() + b"\n" + payload,
            ACCOUNT,
            version,
        )


def test_with_a_chain_key_old_unkeyed_events_still_verify_and_new_ones_are_keyed(
    ledger_store, store_settings
):
    settings = keyed(store_settings)
    decide_more(settings, s.used("meta_description", at=4), s.used("meta_description", at=5))

    heads = sql(
        settings,
        "SELECT state FROM stored_events WHERE originator_id = ? ORDER BY originator_version",
        ACCOUNT,
    )
    assert [bytes(h[0]).startswith(b"sha256:hmac:") for h in heads] == [False] * 5 + [True] * 2
    assert credits(settings, "verify", "--chain") == (0, "all accounts verified\n")
    code, output = credits(store_settings, "verify", "--chain", "--no-read-model")  # no key
    assert code == 1 and "event 6 is keyed, but no chain key is configured" in output


def test_with_a_chain_key_a_chain_recomputed_from_database_access_is_caught(
    ledger_store, store_settings
):
    settings = keyed(store_settings)
    decide_more(settings, s.used("meta_description", at=4))
    rechain_without_a_key(settings)

    assert (
        credits(store_settings, "verify", "--chain", "--no-read-model")[0] == 0
    )  # unkeyed: fooled
    code, output = credits(settings, "verify", "--chain", "--no-read-model")
    assert code == 1
    assert f"{ACCOUNT}: chain: event 6 is unkeyed where the chain is keyed" in output


def rotated(settings, keys: dict[str, str], current: str):
    return settings.model_copy(
        update={
            "ledger_chain_keys": {k: SecretStr(v) for k, v in keys.items()},
            "ledger_chain_key_id": current,
            "ledger_chain_keyed_since": KEYING_BEGAN,
        }
    )


def test_after_a_key_rotation_links_of_both_keys_verify_and_each_names_its_key(
    ledger_store, store_settings
):
    first = rotated(store_settings, {"2026": "old secret"}, "2026")
    decide_more(first, s.used("meta_description", at=4))
    both = rotated(store_settings, {"2026": "old secret", "2027": "new secret"}, "2027")
    decide_more(both, s.used("meta_description", at=5), first_offset=200)
    heads = sql(
        both,
        "SELECT state FROM stored_events WHERE originator_id = ? ORDER BY originator_version",
        ACCOUNT,
    )

    assert [bytes(h[0]).split(b":")[2] for h in heads[5:]] == [b"2026", b"2027"]
    assert credits(both, "verify", "--chain") == (0, "all accounts verified\n")
    only_new = rotated(store_settings, {"2027": "new secret"}, "2027")
    code, output = credits(only_new, "verify", "--chain", "--no-read-model")
    assert code == 1 and "event 6 is keyed with key '2026', which is not in the key ring" in output


def test_a_stream_rewritten_entirely_without_the_key_is_caught_by_the_keyed_since_instant(
    store_settings,
):
    settings = keyed(store_settings, since=s.day(-1))  # keyed from the start
    decide_more(settings, s.renewed("solo"), s.bought("small"))
    assert credits(settings, "verify", "--chain", "--no-read-model")[0] == 0
    rechain_without_a_key(settings)

    code, output = credits(settings, "verify", "--chain", "--no-read-model")
    assert code == 1 and f"{ACCOUNT}: chain: event 1 is unkeyed where the chain is keyed" in output
