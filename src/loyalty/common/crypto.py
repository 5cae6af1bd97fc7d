"""Personal data at rest: Fernet encryption plus a keyed blind index for exact look-ups.

Phones are stored only as ciphertext; finding a customer by phone compares HMAC-SHA256 digests
of the normalised number, keyed per deployment and salted with the merchant account, so the
same phone in two accounts gives unrelated digests and the table alone reveals nothing.

Keys come from configuration (`LOYALTY_ENCRYPTION_KEYS`, `LOYALTY_BLIND_INDEX_KEY`). Several
comma-separated Fernet keys may be given: the first encrypts, all decrypt (rotation). Outside
production, fixed development keys are used when none are configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from loyalty.config import Settings

_DEVELOPMENT_SECRET = b"loyalty-development-only-do-not-use-in-production"


class KeyringNotInstalled(RuntimeError):
    pass


def _development_fernet_key() -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(_DEVELOPMENT_SECRET + b":fernet").digest())


@dataclass(frozen=True)
class Keyring:
    cipher: MultiFernet
    index_key: bytes

    def encrypt(self, text: str) -> bytes:
        return self.cipher.encrypt(text.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self.cipher.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise ValueError("ciphertext does not match any configured encryption key") from exc

    def blind_index(self, account_id: uuid.UUID, purpose: str, value: str) -> bytes:
        message = f"{account_id}:{purpose}:{value}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).digest()


def fernet_keys(keys: SecretStr | None) -> MultiFernet | None:
    """Comma-separated Fernet keys: the first encrypts, every one decrypts (rotation)."""
    raw = keys.get_secret_value() if keys is not None else ""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    return MultiFernet([Fernet(part.encode()) for part in parts]) if parts else None


def keyring_from_settings(settings: Settings) -> Keyring:
    cipher = fernet_keys(settings.ENCRYPTION_KEYS) or MultiFernet(
        [Fernet(_development_fernet_key())]
    )
    if settings.BLIND_INDEX_KEY is not None:
        index_key = settings.BLIND_INDEX_KEY.get_secret_value().encode()
    else:
        index_key = hashlib.sha256(_DEVELOPMENT_SECRET + b":index").digest()
    return Keyring(cipher, index_key)


_installed: Keyring | None = None


def install(settings: Settings) -> Keyring:
    """Called once at start-up by the app factory and the command line."""
    global _installed
    _installed = keyring_from_settings(settings)
    return _installed


def keyring() -> Keyring:
    if _installed is None:
        raise KeyringNotInstalled("call loyalty.common.crypto.install(settings) at start-up")
    return _installed
