"""A real, running service for tests: uvicorn and Celery worker processes started with
the `secureforms` CLI (the same entrypoints the docker images use), against real Redis,
SQLite or PostgreSQL, and a Redis or RabbitMQ broker.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa

from support import redis_dbs
from support.cli_run import run_cli

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"
CLI = [sys.executable, "-m", "cli.main"]
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: if the test run dies (killed, timed out), so does this
    process. An orphaned worker would otherwise go on taking tasks from the Redis
    database the next run is given, and that run would wait for them in vain."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


ROOT = Path(__file__).resolve().parents[2]


def choose_own_password(client: httpx.Client, site_id: str, username: str, given: str) -> str:
    """The first sign-in after an admin chose a user's password: the user must set one of
    their own before anything else answers (api.auth.Setup.PASSWORD). Answers it."""
    r = client.post(
        "/api/v1/auth/login",
        json={"site_id": site_id, "username": username, "password": given},
    )
    assert r.status_code == 200, r.text
    own = f"pw-{uuid.uuid4().hex}"
    r = client.post(
        "/api/v1/auth/password",
        headers={"Authorization": f"Bearer {r.json()['token']}"},
        json={"current_password": given, "new_password": own},
    )
    assert r.status_code == 204, r.text
    return own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_pg_database(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# rabbitmqctl starts an Erlang node for every call, seconds each on a loaded machine: a
# stack's vhost is made and deleted on these threads while its databases are.
_BACKGROUND = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stack-vhost")


def create_rabbit_vhost(vhost: str | None = None) -> str:
    vhost = vhost or f"sf-test-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return vhost


def delete_rabbit_vhost(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Stack:
    db: str  # sqlite | postgres
    broker: str  # redis | rabbitmq
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    procs: dict[str, Proc] = field(default_factory=dict)
    site_id: str = ""
    admin: tuple[str, str] = ("admin", "admin-password-1")
    redis_db: int | None = None  # None until a database is held: stop() never flushes 0
    broker_db: int | None = None
    _pg_names: list[str] = field(default_factory=list)
    _vhost: str | None = None
    _vhost_made: Future[str] | None = None
    _log_counter: Iterator[int] = field(default_factory=itertools.count)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def build(cls, db: str, broker: str, data_dir: Path, **overrides: str) -> Stack:
        stack = cls(db=db, broker=broker, data_dir=data_dir)
        try:
            stack._build(**overrides)
        except BaseException:
            stack.stop()  # a half-built stack still gives back its databases and locks
            raise
        return stack

    def _build(self, **overrides: str) -> None:
        stack, db, broker, data_dir = self, self.db, self.broker, self.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        stack.redis_db = redis_dbs.acquire()
        env = {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(data_dir),
            "SECUREFORMS_REDIS_URL": redis_dbs.url(stack.redis_db),
        }
        if broker == "rabbitmq":
            stack._vhost = f"sf-test-{uuid.uuid4().hex[:10]}"
            stack._vhost_made = _BACKGROUND.submit(create_rabbit_vhost, stack._vhost)
            env["SECUREFORMS_BROKER_URL"] = RABBIT_URL + stack._vhost
        else:
            stack.broker_db = redis_dbs.acquire()
            env["SECUREFORMS_BROKER_URL"] = redis_dbs.url(stack.broker_db)
        if db == "postgres":
            app_name, app_url = create_pg_database("sf_app")
            vault_name, vault_url = create_pg_database("sf_vault")
            stack._pg_names = [app_name, vault_name]
            env["SECUREFORMS_APP_DATABASE_URL"] = app_url
            env["SECUREFORMS_VAULT_DATABASE_URL"] = vault_url
        else:
            env["SECUREFORMS_APP_DATABASE_URL"] = f"sqlite:///{data_dir}/app.sqlite3"
            env["SECUREFORMS_VAULT_DATABASE_URL"] = f"sqlite:///{data_dir}/vault.sqlite3"
        stack.port = free_port()
        env["SECUREFORMS_PUBLIC_URL"] = f"http://127.0.0.1:{stack.port}"
        env.update(overrides)
        stack.env = env
        for r in stack.redis_clients():
            r.flushdb()
        stack.cli("migrate")
        stack.site_id = stack.create_site(*stack.admin, name="Test site")["site_id"]
        if stack._vhost_made is not None:
            stack._vhost_made.result()  # the broker is there before any process is started

    @classmethod
    @contextmanager
    def running(
        cls,
        db: str,
        broker: str,
        data_dir: Path,
        *,
        api: bool = True,
        worker: bool = True,
        **overrides: str,
    ) -> Iterator[Stack]:
        """The one way tests get a stack: built, its api and worker started (unless told
        not to), and stopped, with its databases dropped and locks released, whatever
        happened."""
        stack = cls.build(db, broker, data_dir, **overrides)
        try:
            # Both start at once: each waits seconds on its imports, which overlap.
            api_proc = stack._spawn("api", *stack._api_args()) if api else None
            worker_proc = stack._spawn("worker", *stack._worker_args()) if worker else None
            if api_proc is not None:
                stack._await_api(api_proc)
            if worker_proc is not None:
                stack._await_worker(worker_proc)
            yield stack
        finally:
            stack.stop()

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREFORMS_")}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(ROOT)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`secureforms *args` with this stack's settings, called in this process
        (support.cli_run); the api, worker and beat are the CLI's own processes."""
        result = run_cli(self.env, args)
        self.append_log("cli", result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"secureforms {' '.join(args[:2])} failed:\n{result.stderr[-3000:]}"
            )
        return result

    def create_site(
        self, admin_username: str, admin_password: str, *, name: str | None = None
    ) -> dict[str, str]:
        """A site (tenant) made through the CLI: {"site_id", "admin_id"}."""
        out = self.cli(
            "site",
            "create",
            name or f"site-{uuid.uuid4().hex[:8]}",
            "--admin-username",
            admin_username,
            "--admin-password",
            admin_password,
        )
        return dict(json.loads(out.stdout))

    def append_log(self, name: str, text: str) -> None:
        with (self.data_dir / f"{name}.log").open("a") as fh:
            fh.write(text)

    # -- processes -------------------------------------------------------------------
    def _spawn(self, name: str, *args: str) -> Proc:
        log_path = self.data_dir / f"{name}-{next(self._log_counter)}.log"
        with log_path.open("wb") as fh:  # the child keeps its own descriptor
            popen = subprocess.Popen(
                [*CLI, *args],
                env=self.process_env(),
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        proc = Proc(name, popen, log_path)
        self.procs[name] = proc
        return proc

    def _api_args(self) -> tuple[str, ...]:
        return ("api", "--host", "127.0.0.1", "--port", str(self.port))

    def _worker_args(self, concurrency: int = 2, extra: Sequence[str] = ()) -> tuple[str, ...]:
        return ("worker", "--concurrency", str(concurrency), *extra)

    def start_api(self, extra: Sequence[str] = ()) -> None:
        """`extra`: more `secureforms api` options (`--workers 2`, say)."""
        self._await_api(self._spawn("api", *self._api_args(), *extra))

    def _await_api(self, proc: Proc) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            if not proc.alive():
                raise AssertionError(f"api died:\n{proc.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("api did not start in 30 s")

    def start(self, worker_concurrency: int = 2) -> Proc:
        """The api and a worker side by side, as `running` starts them (each spends seconds
        on its imports, which overlap); answers the worker."""
        api = self._spawn("api", *self._api_args())
        worker = self._spawn("worker", *self._worker_args(worker_concurrency))
        self._await_api(api)
        return self._await_worker(worker)

    def start_worker(
        self, concurrency: int = 2, name: str = "worker", extra: Sequence[str] = ()
    ) -> Proc:
        """`extra`: more `secureforms worker` options (`--metrics-port P`, say)."""
        return self._await_worker(self._spawn(name, *self._worker_args(concurrency, extra)))

    def _await_worker(self, proc: Proc) -> Proc:
        deadline = time.time() + 60
        while time.time() < deadline:
            if not proc.alive():
                raise AssertionError(f"worker died:\n{proc.log_path.read_text()[-3000:]}")
            if b" ready." in proc.log_path.read_bytes():
                return proc
            time.sleep(0.1)
        raise AssertionError("worker did not become ready in 60 s")

    def start_webhook_worker(self) -> Proc:
        """The webhook deliverer: a worker on the webhooks queue only, as production runs."""
        args = ("worker", "--queues", "webhooks", "--concurrency", "1")
        return self._await_worker(self._spawn("webhooks", *args))

    def start_beat(self) -> Proc:
        """The scheduler; tests wait on what it sends, not on it."""
        return self._spawn("beat", "beat", "--loglevel", "INFO")

    def kill(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        self._kill_all([name], sig, timeout)

    def _kill_all(self, names: list[str], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal every one first, then wait: their shutdowns overlap."""
        procs = [p for p in (self.procs.get(name) for name in names) if p and p.alive()]
        for proc in procs:
            # The whole process group: a prefork worker's children die with it.
            os.killpg(proc.popen.pid, sig)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)

    def stop(self) -> None:
        self._kill_all(list(self.procs))
        vhost_gone = (
            _BACKGROUND.submit(self._delete_vhost) if self._vhost_made is not None else None
        )
        for name in self._pg_names:
            drop_pg_database(name)
        for r in self.redis_clients():
            r.flushdb()
            r.close()
        redis_dbs.release(self.redis_db)
        redis_dbs.release(self.broker_db)
        if vhost_gone is not None:
            vhost_gone.result()

    def _delete_vhost(self) -> None:
        assert self._vhost_made is not None and self._vhost is not None
        wait([self._vhost_made])  # made, or half made (its error is _build's to raise)
        delete_rabbit_vhost(self._vhost)

    # -- talking to it ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def redis_clients(self) -> list[redis.Redis]:
        dbs = [db for db in (self.redis_db, self.broker_db) if db is not None]
        return [redis_dbs.client(db) for db in dbs]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.data_dir.glob("*.log")))

    def engines(self) -> dict[str, sa.engine.Engine]:
        return {
            "app": sa.create_engine(self.env["SECUREFORMS_APP_DATABASE_URL"]),
            "vault": sa.create_engine(self.env["SECUREFORMS_VAULT_DATABASE_URL"]),
        }

    # -- the usual moves -------------------------------------------------------------
    def login(self, username: str, password: str) -> dict[str, str]:
        with self.client() as c:
            r = c.post(
                "/api/v1/auth/login",
                json={"site_id": self.site_id, "username": username, "password": password},
            )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def admin_headers(self) -> dict[str, str]:
        return self.login(*self.admin)

    def new_user(
        self, admin: dict[str, str], role: str = "agent", name: str | None = None
    ) -> tuple[str, str, str]:
        """A new user of the stack's site: (id, username, password)."""
        username = name or f"{role}-{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex}"
        with self.client() as c:
            r = c.post(
                "/api/v1/users",
                headers=admin,
                json={
                    "username": username,
                    "password": password,
                    "role": role,
                    "display_name": username,
                },
            )
            assert r.status_code == 201, r.text
            password = choose_own_password(c, self.site_id, username, password)
        return str(r.json()["id"]), username, password

    def new_agent(
        self, admin: dict[str, str], name: str | None = None
    ) -> tuple[str, dict[str, str]]:
        user_id, username, password = self.new_user(admin, "agent", name)
        return user_id, self.login(username, password)

    def create_form(self, admin: dict[str, str], definition: dict[str, Any]) -> str:
        with self.client() as c:
            r = c.post("/api/v1/forms", headers=admin, json=definition)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


PAYMENT_FORM: dict[str, Any] = {
    "name": "payment_card",
    "title": "Payment card",
    "fields": [
        {"name": "cardholder", "label": "Name on card", "type": "text", "required": True},
        {"name": "card_number", "label": "Card number", "type": "card_number", "required": True},
        {"name": "expiry", "label": "Expiry", "type": "card_expiry", "required": True},
        {"name": "cvv", "label": "CVV", "type": "cvv", "required": True},
    ],
}
