"""Where a webhook may point (production and test rules), how it is signed, and the one
POST, against a real receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.receiver import Receiver, running_receiver

from connectors.webhooks import Policy, post, signature

OWN = "https://secureforms.example"
PUBLIC_IP = "93.184.216.34"


def resolver(table: dict[str, list[str]]) -> object:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("no such name")
        return table[host]

    return resolve


PRODUCTION = Policy(
    production=True,
    own_url=OWN,
    resolver=resolver(  # type: ignore[arg-type]
        {
            "hooks.example.com": [PUBLIC_IP],
            "inside.example.com": ["10.1.2.3"],
            "mixed.example.com": [PUBLIC_IP, "192.168.0.7"],
            "metadata.google.internal": ["169.254.169.254"],
            "localhost": ["127.0.0.1"],
            "secureforms.example": [PUBLIC_IP],
        }
    ),
)


@pytest.mark.parametrize(
    "url",
    [
        f"http://{PUBLIC_IP}/hook",  # production takes https only
        "https://127.0.0.1/hook",
        "https://127.1.2.3:8443/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # loopback written as IPv6
        "https://10.0.0.8/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://[fd00:ec2::254]/latest/",  # AWS's IPv6 metadata address
        "https://[fe80::1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://inside.example.com/hook",  # a name that points inside
        "https://mixed.example.com/hook",  # one inside address is enough
        "https://unknown.example.com/hook",  # does not resolve
        f"{OWN}/api/v1/conversations",  # this service's own API
        f"{OWN}:8443/anything",
        "https://user:pw@hooks.example.com/hook",
        "https://hooks.example.com/hook#frag",
        "ftp://hooks.example.com/hook",
        "hooks.example.com/hook",
        "https:///nohost",
        "https://hooks.example.com:99999/",
        "https://hooks.example.com/a b",
        "",
        None,
        42,
        "https://hooks.example.com/" + "a" * 2000,
    ],
)
def test_production_refuses(url: object) -> None:
    problem = PRODUCTION.check(url)
    assert problem, url


@pytest.mark.parametrize(
    "url",
    [
        f"https://{PUBLIC_IP}/hook",
        "https://hooks.example.com/hook?x=1",
        "https://hooks.example.com:8443/",
    ],
)
def test_production_accepts_public_https(url: str) -> None:
    assert PRODUCTION.check(url) is None


TEST_POLICY = Policy(production=False, own_url="http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9000/hook", True),
        ("https://127.0.0.1:9000/hook", True),
        ("http://127.0.0.1:8000/api/v1/webhooks", False),  # the api itself
        ("http://10.0.0.8/hook", False),
        ("http://169.254.169.254/", False),
        (f"http://{PUBLIC_IP}/hook", False),  # plain http only to this machine
        (f"https://{PUBLIC_IP}/hook", True),
    ],
)
def test_outside_production_http_to_loopback_only(url: str, allowed: bool) -> None:
    assert (TEST_POLICY.check(url) is None) is allowed


def test_the_signature_is_hmac_sha256_of_time_dot_body_one_per_secret() -> None:
    body = b'{"id":"e1"}'
    header = signature(["whsec_new", "whsec_old"], body, 1_700_000_000)
    t, new, old = header.split(",")
    assert t == "t=1700000000"
    for part, secret in ((new, "whsec_new"), (old, "whsec_old")):
        expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
        assert part == f"v1={expected}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("/hook") as r:
        yield r


def test_a_post_carries_the_event_id_and_a_signature_over_the_raw_body(
    receiver: Receiver,
) -> None:
    body = b'{"id":"ev-1","type":"secure_form.sent"}'
    attempt = post(
        TEST_POLICY,
        receiver.url,
        body,
        event_id="ev-1",
        event_type="secure_form.sent",
        secrets=["whsec_a"],
        now=lambda: 1_700_000_123,
    )
    assert attempt.ok and attempt.status_code == 200
    headers, raw = receiver.raw[0]
    assert raw == body
    assert headers["Secureforms-Event-Id"] == "ev-1"
    assert headers["Secureforms-Signature"] == signature(["whsec_a"], body, 1_700_000_123)


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    # A name only this resolver knows: reaching the receiver proves the POST went to the
    # checked address rather than to a second lookup of the name (DNS rebinding).
    port = receiver.url.split(":")[2].split("/")[0]
    policy = Policy(
        production=False,
        own_url="http://127.0.0.1:8000",
        resolver=resolver({"receiver.test": ["127.0.0.1"]}),  # type: ignore[arg-type]
    )
    attempt = post(
        policy,
        f"http://receiver.test:{port}/hook",
        b"{}",
        event_id="e",
        event_type="secure_form.sent",
        secrets=["s"],
    )
    assert attempt.ok
    assert receiver.raw[0][0]["Host"] == f"receiver.test:{port}"


def test_a_name_that_now_resolves_inside_is_refused_at_delivery(receiver: Receiver) -> None:
    # Registered while it pointed outside; at delivery it points at this machine.
    port = receiver.url.split(":")[2].split("/")[0]
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])
    policy = Policy(production=True, own_url=OWN, resolver=lambda host, port: next(answers))
    assert policy.check(f"https://rebind.example.com:{port}/hook") is None
    attempt = post(
        policy,
        f"https://rebind.example.com:{port}/hook",
        b"{}",
        event_id="e",
        event_type="secure_form.sent",
        secrets=["s"],
    )
    assert not attempt.ok and attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("refused")
    assert receiver.raw == []


def test_an_error_answer_and_a_dead_receiver_are_not_ok(receiver: Receiver) -> None:
    receiver.status = 500
    failed = post(TEST_POLICY, receiver.url, b"{}", event_id="e", event_type="t", secrets=["s"])
    assert not failed.ok and failed.status_code == 500
    receiver.pause()
    down = post(TEST_POLICY, receiver.url, b"{}", event_id="e", event_type="t", secrets=["s"])
    assert not down.ok and down.status_code is None and down.error == "could not connect"


def test_the_check_in_docs_integration_md_accepts_ours_and_refuses_the_rest() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text()
    section = doc.split("### Checking the signature", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 10
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 (the documentation's own example)
    verified = namespace["verified"]
    body, now = b'{"id":"e"}', int(time.time())
    assert verified("whsec_a", body, signature(["whsec_a"], body, now))
    assert verified("whsec_old", body, signature(["whsec_new", "whsec_old"], body, now))
    assert not verified("whsec_a", body + b" ", signature(["whsec_a"], body, now))
    assert not verified("whsec_b", body, signature(["whsec_a"], body, now))
    assert not verified("whsec_a", body, signature(["whsec_a"], body, now - 301))
    assert not verified("whsec_a", body, "v1=" + "0" * 64)
