"""How long a retention purge of N stored submissions takes, and its peak memory.

Fills a fresh vault DB (SQLite or PostgreSQL) with N submissions spread over 14 months,
then runs the real `secureforms purge --as-of ...` in a child process and reports its
wall time and peak resident memory (the child's ru_maxrss). Prints figures; asserts
nothing.

    .venv/bin/python benchmarks/purge.py --n 1000000 --db sqlite
    .venv/bin/python benchmarks/purge.py --n 1000000 --db postgres
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import insert  # noqa: E402
from support.stack import create_pg_database, drop_pg_database  # noqa: E402

from configs.database import make_engine  # noqa: E402
from vault import DataKeys, KeyringFile, migrate_keystore_db, migrate_vault_db  # noqa: E402
from vault.schema import submissions  # noqa: E402
from vault.sealed_fields import seal_fields  # noqa: E402

SITES = 4
MONTHS = 14
BATCH = 10_000


def fill(
    vault_url: str,
    keystore_url: str,
    keyring: KeyringFile,
    n: int,
    now: datetime,
    site_ids: list[str],
) -> None:
    engine = make_engine(vault_url)
    data_keys = DataKeys(make_engine(keystore_url), keyring)
    # One real sealed blob per site and month, reused for speed: the purge never opens
    # rows, it only needs realistic sizes and real data keys to shred.
    blobs = {}
    for site in range(SITES):
        for month in range(MONTHS):
            created = now - timedelta(days=30 * month + 15)
            key = data_keys.for_writing(site_ids[site], created.strftime("%Y-%m"))
            blob = seal_fields(
                key,
                "data",
                site_ids[site],
                "x",
                {"card_number": "4111111111111111", "cardholder": "Bench Mark", "expiry": "12/30"},
            )
            blobs[(site, month)] = (key.id, blob, created)
    started = time.monotonic()
    rows = []
    for i in range(n):
        site, month = i % SITES, (i // SITES) % MONTHS
        key_id, blob, created = blobs[(site, month)]
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "site_id": site_ids[site],
                "conversation_id": str(uuid.uuid4()),
                "agent_id": "agent",
                "request_id": "request",
                "form_id": "form",
                "form_version": 1,
                "sealed_values": blob,
                "off_record_fields": "[]",
                "data_key_id": key_id,
                "created_at": created,
                "expires_at": created + timedelta(days=395),
            }
        )
        if len(rows) == BATCH:
            with engine.begin() as conn:
                conn.execute(insert(submissions), rows)
            rows = []
            done = i + 1
            print(
                f"\rfilling {done:,}/{n:,} ({done / (time.monotonic() - started):,.0f}/s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(submissions), rows)
    print(file=sys.stderr)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--batch", type=int, default=1000, help="rows per purge transaction")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="sf-purge-bench-"))
    pg_names: list[str] = []
    if args.db == "postgres":
        app_name, app_url = create_pg_database("sf_bench_app")
        vault_name, vault_url = create_pg_database("sf_bench_vault")
        pg_names = [app_name, vault_name]
    else:
        app_url = f"sqlite:///{data_dir}/app.sqlite3"
        vault_url = f"sqlite:///{data_dir}/vault.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SECUREFORMS_")},
        "SECUREFORMS_ENV": "test",
        "SECUREFORMS_DATA_DIR": str(data_dir),
        "SECUREFORMS_APP_DATABASE_URL": app_url,
        "SECUREFORMS_VAULT_DATABASE_URL": vault_url,
        "PYTHONPATH": str(ROOT),
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "cli.main", "migrate"], env=env, check=True, capture_output=True
        )
        migrate_vault_db(vault_url)
        migrate_keystore_db(app_url)
        keyring = KeyringFile(data_dir / "keyring.json", allow_generate=True)
        now = datetime.now(UTC)
        fill_started = time.monotonic()
        # real sites: the purge writes an audit entry per site it touches
        site_ids = [
            json.loads(
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "cli.main",
                        "site",
                        "create",
                        f"Bench {i}",
                        "--admin-username",
                        "admin",
                        "--admin-password",
                        "bench-admin-password",
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )["site_id"]
            for i in range(SITES)
        ]
        fill(vault_url, app_url, keyring, args.n, now, site_ids)
        fill_s = time.monotonic() - fill_started

        as_of = now + timedelta(days=400)  # everything is past retention
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.monotonic()
        purge = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "purge",
                "--as-of",
                as_of.isoformat(),
                "--batch",
                str(args.batch),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.monotonic() - started
        if purge.returncode != 0:
            print(purge.stderr[-3000:], file=sys.stderr)
            return purge.returncode
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        report = json.loads(purge.stdout.strip().splitlines()[-1])
        print(f"machine        {os.cpu_count()} cores, db={args.db}, batch={args.batch}")
        print(f"filled         {args.n:,} rows in {fill_s:,.1f} s")
        print(
            f"purged         {report['deleted']:,} rows in {elapsed:,.1f} s "
            f"({report['deleted'] / elapsed:,.0f} rows/s)"
        )
        print(f"month keys     {len(report['data_keys_destroyed'])} shredded")
        print(f"peak memory    {max(peak_kib, before) / 1024:,.0f} MiB (the purge process)")
    finally:
        for name in pg_names:
            drop_pg_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
