"""API keys (stored only as hashes) and provider secrets (encrypted at rest, masked out)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

from ragapi_common.errors import RagapiError

KEY_PREFIX = "rk_"
_ENCRYPTED_PREFIX = "enc:"


def new_api_key() -> str:
    """A fresh tenant API key: 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """The only form in which a key is stored. Keys are 256-bit random, so a plain
    sha256 (no salt, no stretching) is enough and allows an O(1) lookup."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def mask(secret: str) -> str:
    """``sk-...abcd``: enough to recognise a key, not to use it."""
    if len(secret) <= 8:
        return "..."
    return f"{secret[:3]}...{secret[-4:]}"


def is_masked(value: str) -> bool:
    return "..." in value and len(value) <= 12


class SecretBox:
    """Encrypts provider secrets with a key derived from ``RAGAPI_SECRET_KEY``."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise RagapiError(
                "RAGAPI_SECRET_KEY is not set; provider secrets cannot be stored or opened"
            )
        derived = hashlib.sha256(b"ragapi-config-secrets:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plain: str) -> str:
        return _ENCRYPTED_PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_ENCRYPTED_PREFIX):
            raise RagapiError("a stored secret is not encrypted")
        try:
            return self._fernet.decrypt(stored[len(_ENCRYPTED_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise RagapiError(
                "a stored secret cannot be decrypted: wrong RAGAPI_SECRET_KEY?"
            ) from exc
