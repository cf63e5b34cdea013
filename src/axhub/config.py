"""One typed Settings object, built at the edge (cli, api) and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All axhub settings; every field can be set by an ``AXHUB_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="AXHUB_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default=Path("axhub-data"),
        description="Folder holding the raw zone, integrated zone, views and run manifests.",
    )
    seed: int = Field(default=20261126, description="Seed for synthetic data and training.")
    demo_people: int = Field(default=5000, description="People in the demo region.")
    engine: str = Field(default="duckdb", description="Default engine: duckdb or spark.")
    spark_master: str = Field(
        default="local[2]", description="Spark master URL for the Spark engine."
    )
    duckdb_threads: int = Field(default=0, description="DuckDB threads (0 = all cores).")
    duckdb_memory_limit: str = Field(
        default="", description="DuckDB memory limit such as '4GB' (empty = DuckDB default)."
    )
    ingest_batch_lines: int = Field(
        default=200_000, description="Lines per transactional ingest batch."
    )
    log_level: str = Field(default="WARNING", description="Log level for the CLI.")
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Secret for keyed pseudonyms and linkage (never logged or written to "
        "manifests). Empty means a per-data-dir key file is created.",
    )
    care_db_url: str = Field(
        default="",
        description="SQLAlchemy URL of the care operational store, e.g. "
        "'postgresql+pg8000://user@host:5432/axhub' (empty = SQLite file <data_dir>/care.sqlite).",
    )
    serve_host: str = Field(
        default="127.0.0.1", description="Address the dashboard listens on at the end of the demo."
    )
    serve_port: int = Field(
        default=8000, description="Port the dashboard listens on at the end of the demo."
    )
    no_serve: bool = Field(
        default=False, description="When true, `axhub demo` finishes without serving the web UI."
    )
    llm_base_url: str = Field(
        default="",
        description="OpenAI-compatible endpoint (vLLM, Ollama, llama-server) that may rephrase "
        "approved patient messages, e.g. 'http://127.0.0.1:8000/v1' (empty = templates only).",
    )
    llm_model: str = Field(default="local", description="Model name sent to that endpoint.")
    llm_api_key: SecretStr = Field(
        default=SecretStr(""), description="Bearer token for that endpoint, if it needs one."
    )
    llm_timeout: float = Field(default=10.0, description="Seconds per language-model request.")

    @property
    def raw_zone_path(self) -> Path:
        return self.data_dir / "raw.duckdb"

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to write into a run manifest (secrets removed)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(getattr(self, name), SecretStr):
                continue
            out[name] = str(value) if isinstance(value, Path) else value
        return out
