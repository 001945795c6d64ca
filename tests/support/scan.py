"""Looking for canaries: unique values searched for everywhere plaintext must not be.

A `Canary` expands into the shapes a leaked value could take: as typed, case-folded,
grouped like a card ("4123 4567 ..."), truncated (a card's first 12 / last 10 digits, each
half of a text canary's random core), hex-encoded, and base64-encoded at each of the three
byte alignments it could have inside a longer base64 blob. A `Scanner` looks for all of
them in raw bytes, and also base64-decodes every token that looks like base64 (at every
offset, both alphabets, up to three levels deep: a Celery message on Redis is base64 of
JSON whose arguments could be base64 again) and searches what comes out.

The collectors turn a place into `(where, bytes)` items: every row and column of every
table of a database, every key of a Redis database with its value read by TYPE, every
file under a directory, the commands a Redis MONITOR connection saw.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
import sqlalchemy as sa

Item = tuple[str, bytes]

_B64_TOKEN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_MAX_DEPTH = 3


@dataclass(frozen=True)
class Canary:
    """One planted value. `core` is its random part (the first run of 32+ hex digits of a
    text, all of a card number); truncated forms are cut from it so each stays unique."""

    label: str
    value: str
    digits: bool = False

    @property
    def core(self) -> str:
        if self.digits:
            return self.value
        found = re.search(r"[0-9a-f]{32,}", self.value)
        return found.group(0) if found else self.value

    def forms(self) -> dict[str, str]:
        """Plain shapes, matched case-insensitively."""
        v, core = self.value, self.core
        shapes = {"raw": v, "hex": v.encode().hex()}
        if self.digits:
            groups = [v[i : i + 4] for i in range(0, len(v), 4)]
            shapes |= {
                "spaced": " ".join(groups),
                "dashed": "-".join(groups),
                "first12": v[:12],
                "last10": v[-10:],
            }
        else:
            half = len(core) // 2
            shapes |= {"core": core, "core-head": core[:half], "core-tail": core[half:]}
        return shapes

    def encoded(self) -> dict[str, bytes]:
        """Base64 shapes, matched exactly (base64 is case-sensitive)."""
        shapes: dict[str, bytes] = {}
        for name in ("raw", "core", "spaced"):
            text = self.forms().get(name)
            if text is None:
                continue
            for shift, fragment in enumerate(b64_fragments(text.encode())):
                shapes[f"base64({name})@{shift}"] = fragment
                urlsafe = fragment.replace(b"+", b"-").replace(b"/", b"_")
                if urlsafe != fragment:
                    shapes[f"urlsafe-base64({name})@{shift}"] = urlsafe
        return shapes


def b64_fragments(data: bytes) -> list[bytes]:
    """The part of base64(data) that is the same wherever `data` sits in a longer blob.

    Shifted by 0, 1 or 2 bytes, the first characters mix in the bytes before it and the
    last partial group the bytes after it; what remains only depends on `data`.
    """
    fragments = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data)
        total = shift + len(data)
        skip = (0, 2, 3)[shift]
        fragment = encoded[skip : total // 3 * 4]
        if len(fragment) >= 12:
            fragments.append(fragment)
    return fragments


@dataclass(frozen=True)
class Hit:
    where: str
    canary: str
    form: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.canary} as {self.form}: …{self.excerpt}…"


@dataclass
class Scanner:
    canaries: list[Canary]
    _folded: list[tuple[str, str, bytes]] = field(init=False)
    _exact: list[tuple[str, str, bytes]] = field(init=False)

    def __post_init__(self) -> None:
        self._folded = [
            (c.label, name, text.lower().encode())
            for c in self.canaries
            for name, text in c.forms().items()
        ]
        self._exact = [
            (c.label, name, blob) for c in self.canaries for name, blob in c.encoded().items()
        ]

    def find(self, where: str, data: bytes | str) -> list[Hit]:
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        hits: dict[tuple[str, str, str], Hit] = {}
        self._search(where, raw, 0, hits)
        return list(hits.values())

    def scan(self, items: Iterable[Item]) -> list[Hit]:
        return [hit for where, data in items for hit in self.find(where, data)]

    def _search(
        self, where: str, data: bytes, depth: int, hits: dict[tuple[str, str, str], Hit]
    ) -> None:
        folded = data.lower()
        for label, name, needle in self._folded:
            self._record(where, label, name, folded, data, needle, hits)
        for label, name, needle in self._exact:
            self._record(where, label, name, data, data, needle, hits)
        if depth >= _MAX_DEPTH:
            return
        for token in _B64_TOKEN.findall(data):
            for decoded in _decodings(token):
                self._search(f"{where} (base64-decoded)", decoded, depth + 1, hits)

    @staticmethod
    def _record(
        where: str,
        label: str,
        name: str,
        haystack: bytes,
        original: bytes,
        needle: bytes,
        hits: dict[tuple[str, str, str], Hit],
    ) -> None:
        at = haystack.find(needle)
        if at < 0 or (where, label, name) in hits:
            return
        excerpt = original[max(0, at - 40) : at + len(needle) + 40]
        hits[(where, label, name)] = Hit(
            where, label, name, excerpt.decode("ascii", "backslashreplace")
        )


def _decodings(token: bytes) -> Iterator[bytes]:
    token = token.rstrip(b"=")
    seen: set[bytes] = set()
    for start in range(4):
        part = token[start:]
        part = part[: len(part) // 4 * 4]
        if len(part) < 12:
            continue
        for altchars in (b"+/", b"-_"):
            try:
                decoded = base64.b64decode(part, altchars=altchars, validate=True)
            except (binascii.Error, ValueError):
                continue
            if decoded not in seen:
                seen.add(decoded)
                yield decoded


# -- collectors ---------------------------------------------------------------------------


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def database_items(name: str, engine: sa.engine.Engine) -> list[Item]:
    """Every column of every row of every table (the Alembic bookkeeping included)."""
    items: list[Item] = []
    inspector = sa.inspect(engine)
    meta = sa.MetaData()
    with engine.connect() as conn:
        for table_name in inspector.get_table_names():
            table = sa.Table(table_name, meta, autoload_with=conn)
            for index, row in enumerate(conn.execute(sa.select(table))):
                for column, value in row._mapping.items():
                    if value is not None:
                        items.append((f"{name}.{table_name}.{column}[{index}]", _as_bytes(value)))
    return items


def redis_items(client: redis.Redis) -> list[Item]:
    """Every key of the client's database, its name and its value, whatever its type."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    items: list[Item] = []
    for key in client.scan_iter(count=1000):
        where = f"redis[{db}] {key.decode(errors='backslashreplace')}"
        kind = client.type(key).decode()
        items.append((f"{where} (key name)", key))
        value: object
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key, "-", "+")
        elif kind == "none":  # expired between SCAN and TYPE
            continue
        else:
            raise AssertionError(f"{where}: a {kind} key the scanner cannot read")
        items.append((f"{where} ({kind})", _flatten(value)))
    return items


def _flatten(value: object) -> bytes:
    """Every byte string in a nested reply, joined so that each stays searchable."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return b"\n".join(_flatten(k) + b"\n" + _flatten(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return b"\n".join(_flatten(v) for v in value)
    return str(value).encode()


def file_items(root: Path) -> list[Item]:
    """Every file under `root`, byte for byte (SQLite files with their free pages and WAL)."""
    return [(str(p), p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()]


class RedisMonitor:
    """Records every command the Redis server runs (all databases) until `stop()`.

    Lines are kept as the server sent them, not parsed: a parser that mishandles an
    escape could drop exactly the argument we are looking for.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 6379) -> None:
        self._client = redis.Redis(host=host, port=port)
        self._marker = f"secureforms-canary-monitor-stop-{id(self)}-{threading.get_ident()}"
        self.lines: list[bytes] = []
        self.errors: list[BaseException] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)

    def start(self) -> RedisMonitor:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"MONITOR did not start: {self.errors}")
        return self

    def _run(self) -> None:
        try:
            with self._client.monitor() as monitor:
                self._ready.set()
                while True:
                    line = monitor.connection.read_response(disable_decoding=True)
                    if isinstance(line, bytes) and self._marker.encode() in line:
                        return
                    self.lines.append(line if isinstance(line, bytes) else str(line).encode())
        except BaseException as exc:  # reported by stop()
            self.errors.append(exc)
            self._ready.set()

    def stop(self) -> list[Item]:
        self._client.get(self._marker)
        self._thread.join(15)
        self._client.close()
        assert not self._thread.is_alive(), "MONITOR thread did not see its stop marker"
        assert not self.errors, f"MONITOR failed: {self.errors!r}"
        return [(f"MONITOR line {i}", line) for i, line in enumerate(self.lines)]
