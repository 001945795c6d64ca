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
from typing import Any

from cli import audit_commands, lifecycle_commands, metrics, user_commands
from cli.common import ask_new_password, runtime_or_exit, runtimes_closed, settings_or_exit
from configs import Settings
from core.actors import SCOPES


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

    password = args.admin_password
    if password is None:
        password = ask_new_password("admin password")
        if password is None:
            return 2
    rt = runtime_or_exit(settings_or_exit())
    try:
        print(json.dumps(create_site(rt, args.name, args.admin_username, password)))
    except DomainError as exc:
        print(f"secureforms: {exc.message}", file=sys.stderr)
        return 2
    return 0


def cmd_site_api_key(args: argparse.Namespace) -> int:
    from core.api_keys import DEFAULT_SCOPES, make_key
    from core.errors import DomainError

    rt = runtime_or_exit(settings_or_exit())
    try:
        made = make_key(rt, args.site_id, args.name, args.scope or list(DEFAULT_SCOPES))
        print(json.dumps({k: made[k] for k in ("api_key", "id", "scopes")}))
    except DomainError as exc:
        detail = "".join(f" {name}: {why}" for name, why in (exc.fields or {}).items())
        print(f"secureforms: {exc.message}{detail}", file=sys.stderr)
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


API_WORKERS_MAX = 64  # each holds its own database pools and Redis connections


def _api_workers(text: str) -> int:
    """`secureforms api --workers N`: a whole number from 1 to API_WORKERS_MAX (argparse
    turns the refusal into its usage message and exit code 2)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if not 1 <= count <= API_WORKERS_MAX:
        raise argparse.ArgumentTypeError(f"must be from 1 to {API_WORKERS_MAX}, not {count}")
    return count


def cmd_api(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    metrics.prepare_multiprocess_dir("api")  # before the api imports prometheus-client
    # Once, here, before any worker starts: a keyring that will not do stops the command
    # with one message (a worker failing alone would be started again and again), and
    # two workers never race to make the development one. Migrations are `secureforms
    # migrate`'s, never the api's.
    runtime_or_exit(settings).close()
    import uvicorn

    from api import create_app
    from api.metrics import scrape_registry

    if settings.metrics_listen is not None:
        # In this (the parent) process: one listener however many workers uvicorn starts.
        host, port = metrics.split_listen(settings.metrics_listen)
        metrics.serve(host, port, scrape_registry(settings), settings.metrics_authorized)
    # More than one worker: uvicorn's own supervisor binds the port once, here, and starts
    # each worker from `api_app` in a fresh interpreter (spawned, not forked: no pool,
    # client or key of this process is copied into it); it starts a dead one again and
    # passes SIGTERM/SIGINT on to all, each finishing its requests within the graceful
    # shutdown timeout. The command then exits 0, as with a single process.
    app: Any = create_app(settings) if args.workers == 1 else "cli.main:api_app"
    uvicorn.run(
        app,
        factory=args.workers > 1,
        workers=args.workers,
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


def api_app() -> Any:
    """uvicorn's factory for `secureforms api --workers N`: each process reads the
    settings and sets up logging as the command did, then builds the app."""
    from api import create_app

    return create_app(settings_or_exit())


def _celery_quiet(settings: Settings) -> bool:
    """Celery's start-up banner is printed, not logged: with JSON lines it would be the
    one thing in the output a log collector cannot read."""
    return settings.log_format == "json"


def cmd_worker(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    metrics.prepare_multiprocess_dir("worker")  # the pool's children write there too
    if args.metrics_port is not None:
        # In the main process: the pool's children come and go, the listener stays.
        metrics.serve(
            args.metrics_host,
            args.metrics_port,
            metrics.multiprocess_registry(),
            settings.metrics_authorized,
        )
    from configs.celery import WEBHOOK_QUEUE
    from workers.app import QUEUE, app

    queues = {"main": QUEUE, "webhooks": WEBHOOK_QUEUE, "all": f"{QUEUE},{WEBHOOK_QUEUE}"}
    argv = [
        *(["--quiet"] if _celery_quiet(settings) else []),
        "worker",
        "--loglevel",
        args.loglevel,
        "-Q",
        queues[args.queues],
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
    from workers.beat import run_beat

    schedule = settings.data_dir / "celerybeat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_beat(
        app,
        schedule=str(schedule),
        loglevel=args.loglevel,
        quiet=_celery_quiet(settings),
    )
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
        subprocess.Popen([*base, "worker", "--concurrency", "1", "--queues", "webhooks"]),
        subprocess.Popen([*base, "beat"]),
    ]
    print(
        f"secureforms dev: http://{args.host}:{args.port}  "
        "(api + worker + webhook worker + beat; Ctrl-C stops)"
    )
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
    create.add_argument(
        "--admin-password",
        default=None,
        help="asked for without echo when not given (keeps it out of ps and shell history)",
    )
    create.set_defaults(func=cmd_site_create)
    key = site.add_parser("api-key", help="make an API key for a chat platform's back end")
    key.add_argument("site_id")
    key.add_argument("--name", default="chat platform")
    key.add_argument(
        "--scope",
        action="append",
        choices=[str(s) for s in SCOPES],
        help="what the key may do (repeatable; default conversations)",
    )
    key.set_defaults(func=cmd_site_api_key)

    api = sub.add_parser("api", help="serve HTTP")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument(
        "--workers",
        type=_api_workers,
        default=1,
        metavar="N",
        help=f"api processes sharing the port (1 - {API_WORKERS_MAX}; default 1)",
    )
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run a Celery worker")
    worker.add_argument("--concurrency", type=int, default=0)
    worker.add_argument("--pool", choices=["prefork", "threads", "solo"], default=None)
    worker.add_argument("--loglevel", default="INFO")
    # Webhook deliveries wait on other people's servers: by default a worker of their own.
    worker.add_argument("--queues", choices=["main", "webhooks", "all"], default="main")
    worker.add_argument("--metrics-port", type=int, default=None)
    worker.add_argument("--metrics-host", default="127.0.0.1")
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
