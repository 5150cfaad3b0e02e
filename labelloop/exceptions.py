"""The errors labelloop raises, in one tree.

::

    LabelloopError
    ├── ValidationError (also ValueError)   bad arguments or bad input data; names the place
    │   └── ImportDataError                 a record of an import: file, line, field
    ├── NotFoundError (also LookupError)    a project, item, task, user, version that is not there
    ├── ConflictError                       the state does not allow it (exists, lease lost, ...)
    ├── PermissionDeniedError               the actor's role does not allow it
    ├── ThrottledError                      too many failed attempts: wait retry_after seconds
    ├── PoolExhaustedError                  nothing left to query
    └── AuditChainError                     the audit log's hash chain is broken

Every error carries a message written for the user: what is wrong, where, and what to do.
"""

from __future__ import annotations

__all__ = [
    "AuditChainError",
    "ConflictError",
    "ImportDataError",
    "LabelloopError",
    "NotFoundError",
    "PermissionDeniedError",
    "PoolExhaustedError",
    "RECORDS_SOURCE",
    "ThrottledError",
    "ValidationError",
]

#: The source name of an import of records given in memory (not read from a file).
RECORDS_SOURCE = "<records>"


class LabelloopError(Exception):
    """Base class of every error labelloop raises on purpose."""


class ValidationError(LabelloopError, ValueError):
    """Bad arguments or bad input data.

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    field : str, optional
        The argument, column or field at fault.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImportDataError(ValidationError):
    """A record of an import is invalid; names the file, line and field.

    A record of a file is named by ``path``, ``line`` and ``field`` (the column). A
    record given in memory (``path`` is `RECORDS_SOURCE`) has no file: ``field`` is the
    dotted path of every other error, ``records.<index>.<column>`` with the record's
    0-based index, as in an API body.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        if path == RECORDS_SOURCE and line is not None:
            field = ".".join(str(p) for p in ("records", line - 1, field) if p is not None)
            prefix = field
        else:
            where = ":".join(str(p) for p in (path, line) if p is not None)
            parts = [where] if where else []
            if field is not None:
                parts.append(f"field {field!r}")
            prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message, field=field)
        self.path = path
        self.line = line


class NotFoundError(LabelloopError, LookupError):
    """A project, item, task, user or version that does not exist."""


class ConflictError(LabelloopError):
    """The current state does not allow the change (already exists, lease expired, ...)."""


class PermissionDeniedError(LabelloopError):
    """The actor's role does not allow the action."""


class ThrottledError(LabelloopError):
    """Attempts are refused for now (too many failed log-ins); try again later.

    Parameters
    ----------
    message : str
        In words: why, and when to try again.
    retry_after : int
        Seconds until the next attempt is checked.
    locked : bool
        The account is locked (rather than backed off for a few seconds).
    field : str, optional
        The field at fault.
    """

    def __init__(
        self, message: str, *, retry_after: int, locked: bool = False, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.locked = locked
        self.field = field


class PoolExhaustedError(LabelloopError):
    """There is nothing left in the pool to query."""


class AuditChainError(LabelloopError):
    """The audit log's hash chain is broken at a named event."""

    def __init__(self, message: str, *, event_id: int | None = None, seq: int | None = None):
        super().__init__(message)
        self.event_id = event_id
        self.seq = seq
