"""Service configuration from the environment (DIFFMIX_* variables, and DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIFFMIX_", extra="ignore")

    database_url: str = Field("sqlite:///diffmix.db", validation_alias=AliasChoices("DATABASE_URL", "DIFFMIX_DATABASE_URL"))
    # Folder holding one model directory per property (models/<property>/); default: the shipped models.
    models_dir: Path | None = None
    anonymous_predict: bool = False  # let anyone call /v1/predict, /v1/gradient and /v1/optimize
    max_body_bytes: int = 2_000_000
    max_records: int = 10_000
    lease_seconds: float = 120.0
    max_attempts: int = 3
