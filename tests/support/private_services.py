"""A PostgreSQL cluster and a RabbitMQ node of the test's own, for tests that break them.

The shared services on the default ports carry every other test (and other suites running
on the machine at the same time): a test that restarts a database or a broker runs a
private one on free ports, in a temporary folder, and stops it afterwards. Both run as
their own system users (initdb refuses root; Debian's rabbitmq wrapper switches to
`rabbitmq`), so their folders are made under /tmp and handed to those users.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from support.stack import free_port


def _own_folder(prefix: str, user: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    shutil.chown(folder, user, user)
    return folder


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _as(user: str, *args: str) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if os.geteuid() == 0 else list(args)


class PrivatePostgres:
    """A cluster in a temporary folder (initdb at the first start); `pg_ctl` starts and
    stops it (-m fast) on its own port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = _own_folder("sf-outage-pg-", "postgres")
        self.data = self.folder / "data"
        self._bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]

    def _initdb(self) -> None:
        subprocess.run(
            _as(
                "postgres",
                f"{self._bin}/initdb",
                *("-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as("postgres", f"{self._bin}/pg_ctl", "-D", str(self.data), *args),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        if not self.data.exists():
            self._initdb()
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-l", str(self.folder / "server.log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        """`-m fast`: open transactions are rolled back, every client is disconnected."""
        self._ctl("-m", "fast", "-w", "stop")

    def admin(self, *statements: str, database: str = "postgres") -> None:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()

    def create_database(self, name: str) -> str:
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of its own: its name, AMQP and distribution ports, no plugins, its
    database and logs in a temporary folder. `rabbitmqctl -n` reaches it alone."""

    def __init__(self) -> None:
        self.node = f"sf-outage-{os.getpid()}@localhost"
        self.folder = _own_folder("sf-outage-rabbit-", "rabbitmq")
        self._server: subprocess.Popen[bytes] | None = None
        plugins = self.folder / "enabled_plugins"
        plugins.write_text("[].\n")
        shutil.chown(plugins, "rabbitmq", "rabbitmq")
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            # A boot that fails before its log exists dumps into the current directory,
            # which the Debian wrapper makes /var/lib/rabbitmq.
            "ERL_CRASH_DUMP": str(self.folder / "erl_crash.dump"),
        }
        self._use_ports(free_port(), free_port())

    def _use_ports(self, port: int, dist_port: int) -> None:
        self.port, self.dist_port = port, dist_port
        config = self.folder / "rabbitmq.conf"
        # Its own file: the machine's rabbitmq.conf names the shared node's port.
        config.write_text(
            f"listeners.tcp.local = 127.0.0.1:{port}\ndisk_free_limit.absolute = 1MB\n"
        )
        shutil.chown(config, "rabbitmq", "rabbitmq")
        self._env["RABBITMQ_NODE_PORT"] = str(port)
        self._env["RABBITMQ_DIST_PORT"] = str(dist_port)

    def url(self, vhost: str = "/") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{'' if vhost == '/' else vhost}"

    def ctl(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            ["rabbitmqctl", "-n", self.node, "-q", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)}: {result.stderr[-1500:]}")
        return result.stdout

    def start(self, timeout: float = 90, attempts: int = 3) -> None:
        """Boots the node; a boot that dies is tried again on new ports: free_port() only
        names a port that was free, and another process of the run can take it before
        the node binds it (seconds later, at the end of its boot), which kills the boot."""
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                shutil.rmtree(self.folder / "mnesia", ignore_errors=True)
                self._use_ports(free_port(), free_port())
            if self._boot(timeout):
                return
        raise AssertionError(
            f"RabbitMQ node {self.node} died while booting, {attempts} times (last on ports "
            f"{self.port}/{self.dist_port})\n{self._tails()}"
        )

    def _boot(self, timeout: float) -> bool:
        """True once booted, False when the node died first. In the foreground (not
        `-detached`), so that its death is seen at once and what it printed before its log
        existed (a distribution port in use, say) is kept."""
        with (self.folder / "server.out").open("ab") as out:
            self._server = subprocess.Popen(
                ["rabbitmq-server"],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as -detached did: not stopped by the run's ^C
            )
        deadline = time.monotonic() + timeout
        while self._server.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"RabbitMQ node {self.node} still booting after {timeout} s\n{self._tails()}"
                )
            # Each rabbitmqctl is an Erlang VM of its own (half a second of CPU): none is
            # started before the node listens, so a busy machine's CPU goes to the boot.
            if _accepts(self.port):
                with contextlib.suppress(AssertionError):
                    self.ctl("await_startup", "--timeout", "30", timeout=60)
                    return True
            time.sleep(0.5)
        return False

    def _tails(self) -> str:
        log = self.folder / "log" / f"{self.node}.log"
        parts = []
        for path in (log, self.folder / "server.out"):
            text = path.read_text(errors="replace")[-2500:] if path.exists() else "(none)"
            parts.append(f"--- {path.name}:\n{text}")
        return "\n".join(parts)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")

    def add_vhost(self, vhost: str) -> str:
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return self.url(vhost)

    def queue(self, vhost: str, name: str) -> tuple[int, int, bool]:
        """(ready, unacknowledged, durable) of one queue; (0, 0, False) when absent."""
        out = self.ctl(
            *("list_queues", "-p", vhost, "--no-table-headers"),
            *("name", "messages_ready", "messages_unacknowledged", "durable"),
        )
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == name:
                return int(parts[1]), int(parts[2]), parts[3] == "true"
        return 0, 0, False

    def close(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):  # not running
            self.ctl("stop", timeout=60)
        if self._server is not None:  # reaped
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._server.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)
