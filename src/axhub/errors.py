"""The one exception tree of axhub.

Every error carries structured fields so that ``cli/`` can map it to an exit code and
``api/`` to an HTTP status in one place each.  Per-record problems in batch work are not
raised: they are counted, reported and quarantined.
"""

from __future__ import annotations

from typing import Any


class AxhubError(Exception):
    """Base of every error axhub raises on purpose."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.message} ({where})" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **self.fields}


class InputError(AxhubError):
    """Bad input: names the place (file, line, field path) and the reason."""

    exit_code = 2
    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        reason: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, path=path, line=line, field=field, reason=reason, **fields)
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason


class NotFoundError(AxhubError):
    """A named thing does not exist; carries suggestions ("did you mean ...")."""

    exit_code = 3
    http_status = 404

    def __init__(self, message: str, *, suggestions: list[str] | None = None, **fields: Any):
        super().__init__(message, suggestions=suggestions or None, **fields)
        self.suggestions = suggestions or []


class ConfigError(AxhubError):
    """Invalid settings or environment."""

    exit_code = 4
    http_status = 500


class PolicyDenied(AxhubError):
    """The governance boundary refused an access; carries the decision."""

    exit_code = 5
    http_status = 403

    def __init__(self, message: str, *, decision: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.decision = decision


class EngineError(AxhubError):
    """A query engine (DuckDB, Spark) failed; carries the SQL that failed."""

    exit_code = 6
    http_status = 500

    def __init__(self, message: str, *, sql: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.sql = sql


class ViewDefinitionError(InputError):
    """An invalid SQL-on-FHIR ViewDefinition (names the JSON path and the reason)."""


class UnsupportedFeature(InputError):
    """A FHIRPath function or construct the compiler does not support (names it and where)."""


class IntegrityError(AxhubError):
    """Stored data failed an integrity check (for example a tampered audit log)."""

    exit_code = 7
    http_status = 409
