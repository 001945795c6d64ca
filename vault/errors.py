from __future__ import annotations


class VaultError(Exception):
    """Every failure in the vault: a bad envelope, a wrong key, an unknown or spent OTK.

    It deliberately carries no detail, so that nothing about *why* (and never a value)
    can leak through an error message or a traceback.
    """

    def __init__(self) -> None:
        super().__init__("invalid or expired")
