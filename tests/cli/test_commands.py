"""Every `secureforms` command an operator runs by hand: what it prints (one JSON document
on stdout), what it says on stderr, and its exit code (0 done, 1 a check failed, 2 refused
or bad arguments)."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.audit_trail import unguarded
from support.stack import ROOT, Stack

from configs import load_settings
from core.actors import Actor
from core.conversations import create_conversation
from core.runtime import Runtime

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def entrypoint(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `secureforms` script in a process of its own (docker/entrypoint.sh)."""
    script = Path(sys.executable).with_name("secureforms")
    return subprocess.run(
        [str(script), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def run(stack: Stack, *args: str) -> tuple[int, Any, str]:
    """(exit code, stdout as JSON when it is JSON, stderr)."""
    done = stack.cli(*args, check=False)
    try:
        out: Any = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        out = done.stdout
    return done.returncode, out, done.stderr


def test_migrate_creates_both_databases_and_can_run_again(unmigrated: Stack) -> None:
    data = unmigrated.data_dir
    code, out, err = run(unmigrated, "migrate")  # alembic logs its steps on stderr
    assert (code, out) == (0, {"migrated": ["app", "vault"]}), err
    assert "Running upgrade" in err
    assert (data / "app.sqlite3").stat().st_size > 0
    assert (data / "vault.sqlite3").stat().st_size > 0
    code, out, _ = run(unmigrated, "migrate")  # at head already: nothing to do, no error
    assert (code, out) == (0, {"migrated": ["app", "vault"]})


def test_site_create_prints_one_json_line_and_refuses_a_weak_password(cli: Stack) -> None:
    name = f"shop-{uuid.uuid4().hex[:6]}"
    done = cli.cli(
        "site", "create", name, "--admin-username", "ops", "--admin-password", "x" * 3, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("secureforms: ") and "Traceback" not in done.stderr
    code, out, err = run(
        cli, "site", "create", name, "--admin-username", "ops", "--admin-password", "pw-" + "9" * 12
    )
    assert code == 0, err
    assert set(out) == {"site_id", "admin_id"}
    assert re.fullmatch(UUID, out["site_id"]) and re.fullmatch(UUID, out["admin_id"])


def test_site_api_key_is_made_for_a_site_that_exists_only(cli: Stack) -> None:
    code, out, _ = run(cli, "site", "api-key", cli.site_id, "--name", "chatwoot")
    assert code == 0 and out["api_key"].startswith("sfk_") and len(out["api_key"]) > 40
    code, out, err = run(cli, "site", "api-key", str(uuid.uuid4()))
    assert (code, out) == (2, None)
    assert err.startswith("secureforms: ") and "Traceback" not in err


def test_demo_seed_is_refused_in_production(cli: Stack, tmp_path: Path) -> None:
    """Through the installed entrypoint, as the docker images run it: the exit code and
    stderr reach the shell."""
    production = {
        "SECUREFORMS_ENV": "production",
        "SECUREFORMS_APP_DATABASE_URL": "postgresql+psycopg://sf:pw@127.0.0.1:1/app",
        "SECUREFORMS_VAULT_DATABASE_URL": "postgresql+psycopg://sf:pw@127.0.0.1:1/vault",
        "SECUREFORMS_KEYRING": str(tmp_path / "keyring.json"),
        "SECUREFORMS_PUBLIC_URL": "https://forms.example.com",
        "SECUREFORMS_FORWARDED_ALLOW_IPS": "none",
        "SECUREFORMS_BROKER_URL": "amqp://sf:pw@127.0.0.1:1/",
        "SECUREFORMS_REDIS_URL": "redis://:pw@127.0.0.1:1/0",
        "SECUREFORMS_METRICS_LISTEN": "127.0.0.1:9100",
    }
    done = entrypoint({**cli.process_env(), **production}, "demo", "seed")
    assert (done.returncode, done.stdout) == (2, "")
    assert "for development only" in done.stderr


def test_keys_init_writes_a_private_file_once(cli: Stack, tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    assert run(cli, "keys", "init", "--path", str(path)) == (0, {"keyring": str(path)}, "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    code, out, err = run(cli, "keys", "init", "--path", str(path))
    assert (code, out) == (2, None) and "refusing to replace keys" in err
    assert path.read_bytes() == before


def _primaries(stack: Stack) -> dict[str, str]:
    code, out, err = run(stack, "keys", "list")
    assert code == 0, err
    return {k["purpose"]: k["id"] for k in out["keyring"] if k["state"] == "primary"}


def test_keys_list_and_rotate(cli: Stack) -> None:
    first = _primaries(cli)
    assert set(first) == {"data", "event", "offrecord"}

    code, out, err = run(cli, "keys", "rotate", "--purpose", "event", "--wait")
    assert code == 0, err
    after = _primaries(cli)
    assert after["event"] != first["event"] and after["data"] == first["data"]
    assert out["new_primary"] and "rewrapped" in out

    code, out, err = run(cli, "keys", "rotate", "--purpose", "offrecord")
    assert (code, out["rewrap"]) == (0, "queued"), err  # a worker re-wraps it later

    code, _, err = run(cli, "keys", "rotate", "--purpose", "cvv")
    assert code == 2 and "invalid choice" in err


def test_purge_dry_run_counts_and_changes_nothing(cli: Stack) -> None:
    code, out, err = run(cli, "purge", "--dry-run", "--as-of", "2999-01-01T00:00:00Z")
    assert code == 0, err
    assert out["dry_run"] is True and out["as_of"] == "2999-01-01T00:00:00Z"
    assert out["deleted"] == 0
    code, _, err = run(cli, "purge", "--as-of", "next tuesday")
    assert code == 2 and "RFC 3339" in err


def test_erase_names_the_conversation_or_refuses(cli: Stack) -> None:
    rt = Runtime.from_settings(load_settings(cli.env))
    try:
        made = create_conversation(rt, Actor(site_id=cli.site_id, role="site_key"), "V", None)
    finally:
        rt.close()
    code, out, err = run(cli, "erase", "--conversation", made["id"])
    assert (code, out) == (0, {"conversation_id": made["id"], "erased": 0}), err
    unknown = str(uuid.uuid4())
    code, out, err = run(cli, "erase", "--conversation", unknown)
    assert (code, out) == (2, None) and f"no conversation {unknown}" in err


def test_audit_verify_passes_then_fails_with_1_on_a_broken_chain(cli: Stack) -> None:
    code, out, err = run(cli, "audit", "verify", "--site", cli.site_id)
    assert code == 0, err
    assert out["ok"] is True and out["entries"] >= 1 and cli.site_id in out["heads"]

    with unguarded(cli) as conn:
        conn.execute(
            sa.text("UPDATE audit_events SET type = 'tampered' WHERE site_id = :s"),
            {"s": cli.site_id},
        )
    code, out, err = run(cli, "audit", "verify")
    assert code == 1
    assert out["ok"] is False and out["site_id"] == cli.site_id
    assert "audit trail broken" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "required"),
        (("nonsense",), "invalid choice"),
        (("site", "create", "x"), "--admin-username"),
        (("site",), "required"),
        (("erase",), "--conversation"),
        (("purge", "--batch", "many"), "invalid int value"),
        (("api", "--workers", "65"), "--workers: must be from 1 to 64, not 65"),
        (("api", "--workers", "two"), "--workers: must be a whole number, not 'two'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    unmigrated: Stack, args: tuple[str, ...], words: str
) -> None:
    code, out, err = run(unmigrated, *args)
    assert code == 2 and out is None
    assert "usage: " in err and words in err


def test_the_entrypoint_prints_json_and_exits_2_on_bad_arguments(cli: Stack) -> None:
    done = entrypoint(cli.process_env(), "site", "api-key", cli.site_id, "--name", "shell")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["api_key"].startswith("sfk_")
    done = entrypoint(cli.process_env(), "nonsense")
    assert (done.returncode, done.stdout) == (2, "")
    assert "usage: " in done.stderr and "invalid choice" in done.stderr
