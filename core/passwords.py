"""Password hashing with Argon2id, a dummy verify so unknown users cost the same time, and
the password rules every site enforces (PCI-DSS 8.3.6: length, letters and digits; 8.3.7).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import PasswordPolicy
from core.text import storable

HISTORY_DEPTH = 4  # a new password must differ from the last four (PCI-DSS 8.3.7)

STANDARD = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Only for the test environment (configs refuses it anywhere else): the suite hashes
# thousands of times, and the standard profile's own tests are in tests/core.
_FAST_FOR_TESTS = PasswordHasher.from_parameters(profiles.CHEAPEST)
_hasher = STANDARD
_dummy_hashes: dict[int, str] = {}


def configure(password_hashing: str) -> None:
    """Pick the hasher for this process from the settings' `password_hashing`."""
    global _hasher
    _hasher = _FAST_FOR_TESTS if password_hashing == "fast-for-tests" else STANDARD  # noqa: S105


def _dummy_hash() -> str:
    # Made with the hasher in use, so an unknown user costs what a known one does.
    found = _dummy_hashes.get(id(_hasher))
    if found is None:
        found = _dummy_hashes[id(_hasher)] = _hasher.hash(
            "this password is never right, it only costs time"
        )
    return found


def _bytes(password: str) -> bytes:
    # Whatever a client sends is hashed, even text that isn't valid Unicode: a log-in
    # attempt with it must cost the same and fail the same, never crash.
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _hasher.hash(_bytes(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(stored_hash or _dummy_hash(), _bytes(password))
            and stored_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (core/common_passwords.txt), case-folded."""
    text = resources.files("core").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def is_common(password: str) -> bool:
    return password.casefold() in common_passwords()


def check_password_policy(
    password: str,
    *,
    username: str,
    min_length: int,
    previous_hashes: Iterable[str] = (),
) -> None:
    """Raise PasswordPolicy (422, naming `password`) when the password breaks a rule.

    `previous_hashes` are the newest first; only the last HISTORY_DEPTH count. Messages
    say which rule, never the password.
    """
    if not storable(password):
        _refuse("The password holds characters that can't be used (NUL, unpaired surrogates).")
    if len(password) < min_length:
        _refuse(f"The password must have at least {min_length} characters.")
    if not (any(c.isalpha() for c in password) and any(c.isdecimal() for c in password)):
        _refuse("The password must contain both letters and digits.")
    if password.casefold() == username.casefold():
        _refuse("The password must not be the username.")
    if is_common(password):
        _refuse("This password is among the most commonly used ones; choose another.")
    for i, stored in enumerate(previous_hashes):
        if i >= HISTORY_DEPTH:
            break
        if verify_password(stored, password):
            _refuse(f"The password must differ from the last {HISTORY_DEPTH} passwords.")


def _refuse(message: str) -> None:
    raise PasswordPolicy(message, fields={"password": message})
