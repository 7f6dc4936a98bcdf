"""Server settings from ``READROOM_*`` environment variables and an optional TOML file.

Read them through :func:`get_settings` (cached); never at import time.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Every knob of the server, with the defaults of the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="READROOM_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"), description="SQLite database, blobs, key, fax spool"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/readroom.db"
    )
    config_file: Path | None = Field(default=None, description="optional TOML file of settings")
    host: str = "127.0.0.1"
    port: int = 8750
    workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4),
        ge=1,
        description="server processes `serve` runs (one per core, up to four)",
    )
    public_url: str | None = Field(default=None, description="URL patients and workstations use")

    # sessions and logins
    token_idle_minutes: int = 30
    token_lifetime_hours: int = 12
    lockout_failures: int = 5
    lockout_window_minutes: int = 15
    lockout_minutes: int = 15
    password_min_length: int = 12

    # the business
    service_name: str = "Readroom Second Opinion Radiology"
    service_address: str = "100 Queen Street West, Toronto, ON M5H 2N2"
    service_hst_number: str = "123456789 RT0001"
    private_fee: Decimal = Decimal("450.00")
    tax_rate: Decimal = Decimal("0.13")
    currency: str = "CAD"
    turnaround_days: int = 7
    study_max_age_days: int = 365
    accepted_modalities: list[str] = Field(default_factory=lambda: ["CT", "MR"])
    referral_max_bytes: int = 20 * 1024 * 1024
    reading_lock_minutes: int = 15

    # imaging intake limits
    upload_max_bytes: int = 4 * 1024**3
    zip_max_members: int = 20_000
    zip_max_total_bytes: int = 8 * 1024**3
    zip_max_ratio: int = 200

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in force (the embedded SQLite file unless one is configured)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'readroom.db').resolve()}"

    @property
    def key_file(self) -> Path:
        """The AES-256 key that encrypts every stored blob (mode 0600)."""
        return self.data_dir / "blob.key"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _toml_path(init_settings())
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def _toml_path(init_values: dict[str, Any]) -> Path | None:
    raw = init_values.get("config_file") or os.environ.get("READROOM_CONFIG_FILE")
    return Path(raw) if raw else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
