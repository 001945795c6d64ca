"""`secureforms keys purge-retired` as an operator runs it, against a private stack (it
retires a key by hand, which no shared stack should see): a retired key that still seals
a TOTP secret is refused with exit 1 and the file left as it was; once nothing uses it,
its secret leaves the keyring file for good, the file stays 0600, the audit trail says
which key went and nothing logs its secret."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from support.sites import OwnSite
from support.stack import Stack

from core.mfa import totp


def test_retired_keys_are_purged_only_once_nothing_uses_them(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    private = Stack.build("sqlite", "redis", tmp_path_factory.mktemp("purge-retired"))
    try:
        private.start_api()
        site = OwnSite.make(private)
        user_id, username, password = site.user()
        me = site.login(username, password)
        reauth = {"current_password": password}
        secret = site.call("POST", "/auth/mfa/enroll", me, reauth).json()["secret"]
        r = site.call("POST", "/auth/mfa/confirm", me, {"totp": totp(secret, time.time())})
        assert r.status_code == 200, r.text

        path = private.data_dir / "keyring.json"
        ring = json.loads(path.read_text())
        (sealing,) = [k for k in ring["keys"] if k["purpose"] == "data"]
        private.cli("keys", "rotate", "--purpose", "data")  # no worker: nothing re-seals
        ring = json.loads(path.read_text())
        for key in ring["keys"]:
            if key["id"] == sealing["id"]:
                key["state"] = "retired"  # retired by hand while a secret is under it
        path.write_text(json.dumps(ring))
        before = path.read_text()

        listed = json.loads(private.cli("keys", "list").stdout)["keyring"]
        (shown,) = [k for k in listed if k["id"] == sealing["id"]]
        assert shown["protects"] == "0 data keys, 1 TOTP secrets"
        busy = private.cli("keys", "purge-retired", check=False)
        assert (busy.returncode, busy.stdout) == (1, "")
        assert f"{sealing['id']} (0 data keys, 1 TOTP secrets) still protects data" in busy.stderr
        assert path.read_text() == before

        primary = next(k["id"] for k in listed if k["state"] == "primary")
        for key, words in ((primary, "is not retired"), ("00" * 8, "No key")):
            refused = private.cli("keys", "purge-retired", "--key", key, check=False)
            assert refused.returncode == 1 and words in refused.stderr

        r = site.call("PATCH", f"/users/{user_id}", site.admin, {"mfa_reset": True})
        assert r.status_code == 200, r.text
        done = private.cli("keys", "purge-retired")
        assert json.loads(done.stdout) == {"purged": [sealing["id"]]}
        text = path.read_text()
        assert sealing["id"] not in text and sealing["secret"] not in text
        assert os.stat(path).st_mode & 0o777 == 0o600
        listed = json.loads(private.cli("keys", "list").stdout)["keyring"]
        assert sealing["id"] not in {k["id"] for k in listed}
        (entry,) = site.trail(type="keys.purged")
        assert entry["resource"] == f"data:{sealing['id']}"
        raw = base64.b64decode(sealing["secret"])
        for spelling in (sealing["secret"], raw.hex()):
            assert spelling not in private.logs()
    finally:
        private.stop()
