"""Tenant config at rest and on the wire: merge patches, encrypted and masked secrets."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ragapi_common.contracts.tenant import SECRET_SECTIONS, TenantConfig
from ragapi_common.errors import ValidationFailed
from ragapi_common.secrets import SecretBox, is_masked, mask


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396: objects merge recursively, ``null`` deletes, anything else replaces."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate(raw: dict[str, Any]) -> TenantConfig:
    """A patched config, as strictly as a created one (``"1000"`` is no integer)."""
    try:
        return TenantConfig.model_validate(raw, strict=True)
    except ValidationError as exc:
        failed = ValidationFailed.from_pydantic(exc)
        for detail in failed.details:
            detail["field"] = "config." + detail["field"]
        raise failed from exc


class ConfigCodec:
    """Moves a config between its forms: stored (encrypted), on the bus (secrets still
    encrypted, apart from the config), shown (masked)."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box

    def seal(self, config: TenantConfig, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """The stored form. A masked key sent back unchanged keeps the stored secret."""
        stored = config.model_dump(mode="json", exclude_none=True)
        for section in SECRET_SECTIONS:
            key = stored.get(section, {}).get("api_key")
            if key is None:
                continue
            if is_masked(key):
                old = (previous or {}).get(section, {}).get("api_key")
                if old is None:
                    raise ValidationFailed(
                        "a masked api_key can only keep an existing secret",
                        details=[{"field": f"config.{section}.api_key", "message": "masked"}],
                    )
                stored[section]["api_key"] = old
            else:
                stored[section]["api_key"] = self.box.encrypt(key)
        return stored

    def _map_secrets(self, stored: dict[str, Any], fn: Any) -> TenantConfig:
        plain = {k: dict(v) if isinstance(v, dict) else v for k, v in stored.items()}
        for section in SECRET_SECTIONS:
            if "api_key" in plain.get(section, {}):
                plain[section]["api_key"] = fn(plain[section]["api_key"])
        return TenantConfig.model_validate(plain)

    def sealed(self, stored: dict[str, Any]) -> tuple[TenantConfig, dict[str, str]]:
        """For the bus: the config without its secrets, and each secret as it is stored
        (encrypted), by section. Only the service calling a provider opens its key."""
        plain = {k: dict(v) if isinstance(v, dict) else v for k, v in stored.items()}
        sealed = {}
        for section in SECRET_SECTIONS:
            key = plain.get(section, {}).pop("api_key", None)
            if key is not None:
                sealed[section] = key
        return TenantConfig.model_validate(plain), sealed

    def masked(self, stored: dict[str, Any]) -> TenantConfig:
        """Secrets masked (``sk-...abcd``), for HTTP answers."""
        return self._map_secrets(stored, lambda secret: mask(self.box.decrypt(secret)))

    def clear_for_patch(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The stored form with secrets masked, as the base a patch merges into."""
        return self.masked(stored).model_dump(mode="json", exclude_none=True)
