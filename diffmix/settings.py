"""Every setting the project reads from the environment, in one place (pydantic-settings).

Variables are ``DIFFMIX_<FIELD>`` (``DIFFMIX_LEASE_SECONDS=60``); the database URL is also read from the
conventional ``DATABASE_URL``. Entry points (the CLI, the service's app factory, Alembic's env.py) make one
``Settings`` and pass what each part needs down as arguments; no library module reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///diffmix.db"  # the embedded default: an SQLite file in the working directory


class Settings(BaseSettings):
    """The project's configuration; every field can be set as DIFFMIX_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="DIFFMIX_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL,
                              validation_alias=AliasChoices("DATABASE_URL", "DIFFMIX_DATABASE_URL", "database_url"))
    # Folder holding one model directory per property (models/<property>/); default: the shipped models.
    models_dir: Path | None = None
    # More checkpoints to serve beside them (e.g. written by `diffmix train --lab-results`), a JSON list of
    # directories: DIFFMIX_EXTRA_MODELS='["/models/lab-2026-12"]'. Campaigns select one by its model version id.
    extra_models: list[Path] = Field(default_factory=list)
    # Folder holding the public data (calisol23.csv, eme_bin.csv, emv_bin.csv); default: ../shared/data or ./data.
    data_dir: Path | None = None
    anonymous_predict: bool = False  # let anyone call /v1/predict, /v1/gradient and /v1/optimize
    max_body_bytes: int = 2_000_000
    header_timeout_s: float = 10.0  # a request's headers must arrive within this (service/server.py)
    body_timeout_s: float = 30.0  # and each part of its body within this after the one before (service/guard.py)
    keep_alive_timeout_s: float = 5.0  # an idle kept-alive connection is closed after this
    max_records: int = 10_000
    # The applicability domain calls a salt or molecule "rarely seen" below this many training rows (model/domain.py)
    domain_min_rows: int = Field(50, ge=1)
    # … and two solvents "rarely together" in fewer training rows than this (1: only pairs never together)
    domain_min_pair_rows: int = Field(1, ge=1)
    lease_seconds: float = 120.0
    max_attempts: int = 3
    max_restarts: int = 5  # agent restarts mid-experiment before the experiment fails (they use up no attempt)
    # plausible ranges for what robots post (results, calibrations); outside → 422 naming the field
    cell_constant_range_per_cm: tuple[float, float] = (1e-3, 100.0)
    resistance_range_ohm: tuple[float, float] = (1e-2, 1e7)
    # a result's resistance must be what its own spectrum gives, within this (relative; model/plausibility.py) …
    result_resistance_tolerance: float = Field(0.05, gt=0, le=1)
    # … what was weighed in must be what was planned, each species within this (absolute mole fraction) …
    result_composition_tolerance: float = Field(0.02, gt=0, le=1)
    # … and its times must fall after the claim and not in the future, beyond this clock skew (seconds)
    result_clock_skew_s: float = Field(300.0, ge=0)
    # a cell's new constant further than this share from its last calibration is refused unless forced with a reason
    calibration_max_change: float = Field(0.2, gt=0)
    robot_key: str | None = None  # the API key `diffmix robot run` uses when --key is not given
    log_json: bool = False  # one JSON object per log line (service and agent), for log collectors
    log_level: str = "INFO"


def settings_variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable of a Settings field named by a validation error's location (DIFFMIX_<FIELD>)."""
    return f"{Settings.model_config.get('env_prefix', '')}{loc[0]}".upper() if loc else "DIFFMIX_*"
