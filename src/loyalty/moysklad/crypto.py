"""MoySklad secrets at rest (JSON API tokens, till tokens being delivered): Fernet, with
rotation: the first configured key encrypts, every configured key decrypts."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from loyalty.common.crypto import fernet_keys
from loyalty.moysklad.errors import SolutionNotConfigured, StoredTokenUnreadable

KEYS_VARIABLE = "LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS"


class TokenCipher:
    def __init__(self, keys: SecretStr | None) -> None:
        # No development fallback: MoySklad's tokens are real credentials even in a test stand.
        self._fernet = fernet_keys(keys)

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SolutionNotConfigured(KEYS_VARIABLE)
        return self._fernet

    def encrypt(self, plaintext: str) -> bytes:
        return self._require().encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._require().decrypt(bytes(ciphertext)).decode()
        except InvalidToken as exc:
            raise StoredTokenUnreadable() from exc

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt with the first key (after a new key was put in front)."""
        try:
            return self._require().rotate(bytes(ciphertext))
        except InvalidToken as exc:
            raise StoredTokenUnreadable() from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()
