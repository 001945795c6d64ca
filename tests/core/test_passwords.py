"""The password rules every site enforces, and the shipped list of common passwords."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import extract_parameters

from configs import load_settings
from configs.settings import ConfigError
from core import passwords
from core.errors import PasswordPolicy
from core.passwords import (
    HISTORY_DEPTH,
    check_password_policy,
    common_passwords,
    hash_password,
    is_common,
    verify_password,
)


def test_the_shipped_list_has_ten_thousand_common_passwords() -> None:
    listed = common_passwords()
    assert len(listed) == 10_000
    for famous in ("123456", "password", "qwerty123", "iloveyou", "p@ssw0rd", "password1234"):
        assert famous in listed, famous
    assert all(p == p.casefold() and p.strip() == p and not p.startswith("#") for p in listed)
    # Long enough to matter: most entries could pass a 7-character minimum on length alone.
    assert sum(len(p) >= 7 for p in listed) > 8000


@pytest.mark.parametrize("password", ["Password1234", "QWERTYUIOP123", "Summer2024!"])
def test_common_passwords_match_whatever_the_case(password: str) -> None:
    assert is_common(password)


def _refused(password: str, **kwargs: object) -> str:
    options: dict[str, object] = {"username": "ada", "min_length": 12} | kwargs
    with pytest.raises(PasswordPolicy) as refused:
        check_password_policy(password, **options)  # type: ignore[arg-type]
    assert refused.value.status == 422 and refused.value.code == "password_policy"
    assert refused.value.fields is not None and set(refused.value.fields) == {"password"}
    assert password not in refused.value.message
    return refused.value.message


def test_length_username_and_commonness_are_refused_with_the_rule_named() -> None:
    assert "at least 12" in _refused("short-pw-1")
    assert "at least 7" in _refused("sh-pw1", min_length=7)
    assert "username" in _refused("Ada.Lovelace.1815", username="ada.lovelace.1815")
    assert "commonly used" in _refused("password1234")
    check_password_policy("plinth-marmot-94", username="ada", min_length=12)


def test_a_new_password_differs_from_the_last_four() -> None:
    previous = [hash_password(f"old-password-{i}") for i in range(HISTORY_DEPTH + 1)]
    for i in range(HISTORY_DEPTH):
        assert "last 4" in _refused(f"old-password-{i}", previous_hashes=previous)
    # The fifth one back is old enough to use again.
    check_password_policy(
        f"old-password-{HISTORY_DEPTH}", username="ada", min_length=12, previous_hashes=previous
    )


def test_an_unknown_hash_costs_a_verify_and_never_matches() -> None:
    stored = hash_password("plinth-marmot-94")
    assert verify_password(stored, "plinth-marmot-94")
    assert not verify_password(stored, "plinth-marmot-95")
    assert not verify_password(None, "this password is never right, it only costs time")
    assert not verify_password("not-a-hash", "x")


def test_letters_and_digits_are_both_required() -> None:
    """PCI-DSS 8.3.6: both numeric and alphabetic characters."""
    for password in ("only-letters-here", "1234-5678-9012-345", "ééééééééééééé"):
        assert "letters and digits" in _refused(password)
    check_password_policy("letters-and-7", username="ada", min_length=12)


def test_the_demo_seed_keeps_to_the_rules() -> None:
    from cli.demo import DEMO_USERS

    for username, (_role, password, _name) in DEMO_USERS.items():
        check_password_policy(password, username=username, min_length=12)


# -- the cost of a hash ----------------------------------------------------------------------


@pytest.fixture
def hashing() -> Iterator[None]:
    """Whatever profile a test picks, the process goes back to the standard one."""
    yield
    passwords.configure("standard")


def test_the_standard_profile_is_rfc_9106_low_memory_argon2id(hashing: None) -> None:
    passwords.configure("standard")
    made = hash_password("Correct-horse-9")
    params = extract_parameters(made)
    assert made.startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
    assert verify_password(made, "Correct-horse-9")
    assert not verify_password(None, "Correct-horse-9")


def test_the_test_profile_is_cheap_and_still_checks(hashing: None) -> None:
    passwords.configure("fast-for-tests")
    made = hash_password("Correct-horse-9")
    assert extract_parameters(made).memory_cost < 65536
    assert verify_password(made, "Correct-horse-9")
    assert not verify_password(made, "Correct-horse-8")
    assert not verify_password(None, "Correct-horse-9")


@pytest.mark.parametrize("env", ["development", "production"])
def test_only_the_test_environment_may_hash_cheaply(env: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only for the test environment"):
        load_settings(
            {
                "SECUREFORMS_ENV": env,
                "SECUREFORMS_DATA_DIR": str(tmp_path),
                "SECUREFORMS_PASSWORD_HASHING": "fast-for-tests",
            }
        )
    assert load_settings({"SECUREFORMS_ENV": "development"}).password_hashing == "standard"
    assert load_settings({"SECUREFORMS_ENV": "test"}).password_hashing == "fast-for-tests"
