"""`secureforms`: the composition root. It wires the rooms together; nothing imports it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from cli import audit_commands, lifecycle_commands, user_commands
from cli.common import runtime_or_exit, runtimes_closed, settings_or_exit


def cmd_migrate(args: argparse.Namespace) -> int:
    from core.runtime import migrate

    settings = settings_or_exit()
    runtime_or_exit(settings).close()  # makes the dev keyring on first run, checks it in production
    migrate(settings)
    print(json.dumps({"migrated": ["app", "vault"]}))
    return 0


def cmd_site_create(args: argparse.Namespace) -> int:
    from core.errors import DomainError
    from core.sites import create_site

    rt = runtime_or_exit(settings_or_exit())
    try:
        print(json.dumps(create_site(rt, args.name, args.admin_username, args.admin_password)))
    except DomainError as exc:
        print(f"secureforms: {exc.message}", file=sys.stderr)
        return 2
    return 0


def cmd_site_api_key(args: argparse.Namespace) -> int:
    from core.errors import DomainError
    from core.sites import create_api_key

    rt = runtime_or_exit(settings_or_exit())
    try:
        print(json.dumps({"api_key": create_api_key(rt, args.site_id, args.name)}))
    except DomainError as exc:
        print(f"secureforms: {exc.message}", file=sys.stderr)
        return 2
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from cli.demo import seed

    settings = settings_or_exit()
    if settings.is_production:
        print("secureforms: the demo site is for development only", file=sys.stderr)
        return 2
    print(json.dumps(seed(runtime_or_exit(settings))))
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from api import create_app

    settings = settings_or_exit()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
        server_header=False,
        # api.ratelimit.client_address reads X-Forwarded-For, from forwarded_allow_ips only;
        # uvicorn's own handling would believe it from 127.0.0.1 whatever the setting.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings_or_exit()
    from workers.app import QUEUE, app

    argv = [
        "worker",
        "--loglevel",
        args.loglevel,
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    if args.pool:
        argv += ["--pool", args.pool]
    app.worker_main(argv)
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    from workers.app import app

    schedule = settings.data_dir / "celerybeat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", args.loglevel, "--schedule", str(schedule)])
    return 0


def cmd_keys_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vault import Keyring

    path = Path(args.path)
    try:
        Keyring.generate(generated=None).save(path, exclusive=True)
    except FileExistsError:
        print(f"secureforms: {path} exists; refusing to replace keys", file=sys.stderr)
        return 2
    print(json.dumps({"keyring": str(path)}))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from core.keys import describe

    rt = runtime_or_exit(settings_or_exit())
    print(json.dumps(describe(rt), indent=2))
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """api + worker + beat in the foreground; stops all three when one stops or on Ctrl-C."""
    settings = settings_or_exit()
    rt = runtime_or_exit(settings)  # makes the keyring once, before three processes race for it
    from cli.demo import login_help

    demo = login_help(rt, f"http://{args.host}:{args.port}")
    rt.close()
    base = [sys.executable, "-m", "cli.main"]
    procs = [
        subprocess.Popen([*base, "api", "--host", args.host, "--port", str(args.port)]),
        subprocess.Popen([*base, "worker", "--concurrency", "2"]),
        subprocess.Popen([*base, "beat"]),
    ]
    print(f"secureforms dev: http://{args.host}:{args.port}  (api + worker + beat; Ctrl-C stops)")
    print(demo, flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stopping else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secureforms", description="Secure forms for chat.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the app DB and the vault DB").set_defaults(
        func=cmd_migrate
    )

    site = sub.add_parser("site", help="sites (tenants)").add_subparsers(
        dest="site_command", required=True
    )
    create = site.add_parser("create", help="create a site and its first admin")
    create.add_argument("name")
    create.add_argument("--admin-username", required=True)
    create.add_argument("--admin-password", required=True)
    create.set_defaults(func=cmd_site_create)
    key = site.add_parser("api-key", help="make an API key for a chat platform's back end")
    key.add_argument("site_id")
    key.add_argument("--name", default="chat platform")
    key.set_defaults(func=cmd_site_api_key)

    api = sub.add_parser("api", help="serve HTTP")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run a Celery worker")
    worker.add_argument("--concurrency", type=int, default=0)
    worker.add_argument("--pool", choices=["prefork", "threads", "solo"], default=None)
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)

    beat = sub.add_parser("beat", help="run the scheduler")
    beat.add_argument("--loglevel", default="INFO")
    beat.set_defaults(func=cmd_beat)

    dev = sub.add_parser("dev", help="api + worker + beat in the foreground")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.set_defaults(func=cmd_dev)

    demo = sub.add_parser("demo", help="the development demo site").add_subparsers(
        dest="demo_command", required=True
    )
    demo.add_parser("seed", help="create the demo site, users and form (idempotent)").set_defaults(
        func=cmd_demo_seed
    )

    keys = sub.add_parser("keys", help="the keyring").add_subparsers(
        dest="keys_command", required=True
    )
    init = keys.add_parser("init", help="write a new production keyring file (mode 0600)")
    init.add_argument("--path", required=True)
    init.set_defaults(func=cmd_keys_init)
    keys.add_parser("list", help="show each key and its state").set_defaults(func=cmd_keys_list)
    audit_commands.register(sub)
    user_commands.register(sub)
    lifecycle_commands.register(sub, keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with runtimes_closed():
        return int(args.func(args) or 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
