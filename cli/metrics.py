"""Metrics plumbing for the long-running commands: prometheus-client's multiprocess
directory, and a metrics endpoint on a listen address of its own.

`prepare_multiprocess_dir` must run before anything imports prometheus-client: the
library picks its value class (in-process, or files shared by every process) once, when
it is first imported. The api's uvicorn workers and the worker's prefork children inherit
the variable, so each writes its counts to the directory and one scrape adds them up.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

ENV = "PROMETHEUS_MULTIPROC_DIR"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def prepare_multiprocess_dir(role: str) -> Path:
    """The operator's PROMETHEUS_MULTIPROC_DIR emptied (counts of a previous run must not
    add up with this one's), or a private one removed at exit."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory")
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix=f"secureforms-{role}-metrics-"))
        atexit.register(_remove_if_mine, path, os.getpid())
        os.environ[ENV] = str(path)
    return path


def _remove_if_mine(path: Path, owner: int) -> None:
    # Forked children inherit atexit hooks: only the process that made it removes it.
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def multiprocess_registry() -> Any:
    """Every process's counts in the directory, read at each scrape."""
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def serve(host: str, port: int, registry: Any, authorized: Callable[[str | None], bool]) -> Any:
    """prometheus-client's WSGI app on its own address, in a daemon thread, refusing (401)
    a request whose Authorization header `authorized` does not accept. Answers the
    server; `server.server_address` is where it listens (port 0 picks a free one)."""
    from prometheus_client import make_wsgi_app
    from prometheus_client.exposition import ThreadingWSGIServer

    metrics_app: WsgiApp = make_wsgi_app(registry)

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not authorized(environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"metrics need the metrics bearer token\n"]
        return metrics_app(environ, start_response)

    server_class = ThreadingWSGIServer
    if ":" in host:  # an IPv6 address

        class server_class(ThreadingWSGIServer):  # type: ignore[no-redef]
            address_family = socket.AF_INET6

    try:
        server = make_server(host, port, guarded, server_class, handler_class=_Quiet)
    except OSError as exc:
        sys.exit(f"secureforms: cannot serve metrics on {host}:{port}: {exc.strerror}")
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would fill the log."""


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)
