"""The service's settings: one value object handed to `create_app`."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from labelloop.engine.users import LoginPolicy
from labelloop.exceptions import ValidationError

__all__ = ["SETTINGS_ENV", "ServerSettings"]

# How `labelloop serve --workers N` hands the settings to its worker processes.
SETTINGS_ENV = "LABELLOOP_SERVER_SETTINGS"


@dataclass(frozen=True)
class ServerSettings:
    """What `labelloop serve` and the tests configure about the HTTP service.

    Parameters
    ----------
    db_url : str, optional
        Database URL or SQLite path; default ``$LABELLOOP_DB`` or ``labelloop.db``.
    media_root : path, optional
        Directory media files are served from (a project's ``media_root`` setting,
        relative to it, narrows it further). Without it no media is served.
    max_body_bytes : int
        Largest request body accepted; larger ones get 413.
    max_items_per_request : int
        Most records, predictions or items one request may carry.
    lease_seconds : int, optional
        Overrides the projects' lease time for tasks leased through this service.
    model_url : str, optional
        Pull mode: the client model's prediction endpoint the worker calls in batches.
    model_batch_size : int
        Items per call to ``model_url``.
    model_protocol : {"labelloop", "label-studio"}
        What ``model_url`` speaks: labelloop's pull request, or the API of a Label Studio
        ML backend (``model_url`` is then the backend's base URL).
    dask : str, optional
        A Dask scheduler address (``tcp://host:8786``): the worker's retrains score the
        pool on that cluster (the ``[scale]`` extra). Default ``$LABELLOOP_DASK``, read
        by each round.
    worker : bool
        Run the job worker (retrains, webhook deliveries, pull mode) in a thread.
    worker_poll_seconds : float
        How often the idle worker looks for work.
    secure_cookies : bool
        Mark the session cookie ``Secure`` (set it when served over HTTPS).
    login_backoff_after : int
        Failed log-ins of one account (known or not) before its attempts are refused
        for a delay that doubles with each further failure (1 s, 2 s, 4 s, ...).
    login_lock_after : int
        Failed log-ins that lock the account for ``login_lock_seconds`` (audited as
        ``login.locked``); a successful log-in forgets the account's failures.
    login_lock_seconds : int
        How long a lock lasts, the longest back-off, and how long a failure is remembered.
    login_address_backoff_after : int
        Failed log-ins from one client address, over every account, before its
        attempts are backed off the same way.
    session_idle_seconds : int
        A browser session not used for this long has expired (8 hours: a working day
        with its breaks); every request extends it. Sessions end after 7 days anyway.
    freeze_startup_objects : bool
        Once the app has started, move every object made so far out of the garbage
        collector's reach (`gc.freeze`), so that its full collections scan only what
        requests made. For a process that serves one app for its whole life
        (``labelloop serve`` sets it); a full collection there went from about 86 ms,
        a pause of every request in flight, to about 6 ms.
    """

    db_url: str | None = None
    media_root: Path | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    max_items_per_request: int = 5000
    lease_seconds: int | None = None
    model_url: str | None = None
    model_batch_size: int = 256
    model_protocol: str = "labelloop"
    dask: str | None = None
    worker: bool = False
    worker_poll_seconds: float = 1.0
    secure_cookies: bool = False
    freeze_startup_objects: bool = False
    login_backoff_after: int = 5
    login_lock_after: int = 10
    login_lock_seconds: int = 900
    login_address_backoff_after: int = 20
    session_idle_seconds: int = 8 * 3600

    def __post_init__(self) -> None:
        for name in (
            "max_body_bytes",
            "max_items_per_request",
            "model_batch_size",
            "login_backoff_after",
            "login_lock_after",
            "login_lock_seconds",
            "login_address_backoff_after",
            "session_idle_seconds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValidationError(
                    f"{name} must be a positive integer, got {value!r}", field=name
                )
        if self.lease_seconds is not None and (
            not isinstance(self.lease_seconds, int) or self.lease_seconds < 1
        ):
            raise ValidationError(
                f"lease_seconds must be a positive integer, got {self.lease_seconds!r}",
                field="lease_seconds",
            )
        if self.worker_poll_seconds <= 0:
            raise ValidationError(
                "worker_poll_seconds must be positive", field="worker_poll_seconds"
            )
        if self.media_root is not None:
            object.__setattr__(self, "media_root", Path(self.media_root))
        if self.model_protocol not in ("labelloop", "label-studio"):
            raise ValidationError(
                f"model protocol must be labelloop or label-studio, got {self.model_protocol!r}",
                field="model_protocol",
            )
        if self.model_url is not None and not self.model_url.startswith(("http://", "https://")):
            raise ValidationError(
                f"model URL must start with http:// or https://, got {self.model_url!r}",
                field="model_url",
            )
        if self.dask is not None and (not isinstance(self.dask, str) or not self.dask.strip()):
            raise ValidationError(
                f"dask must be a scheduler address such as tcp://host:8786, got {self.dask!r}",
                field="dask",
            )
        if self.login_lock_after < self.login_backoff_after:
            raise ValidationError(
                "login_lock_after must not be below login_backoff_after", field="login_lock_after"
            )

    @property
    def login_policy(self) -> LoginPolicy:
        """The log-in throttling these settings ask for."""
        return LoginPolicy(
            backoff_after=self.login_backoff_after,
            lock_after=self.login_lock_after,
            lock_seconds=self.login_lock_seconds,
            address_backoff_after=self.login_address_backoff_after,
        )

    @property
    def session_idle(self) -> dt.timedelta:
        """How long a browser session may go unused."""
        return dt.timedelta(seconds=self.session_idle_seconds)

    def to_json(self) -> str:
        """The settings as JSON (paths as strings), for `from_json`."""
        values = asdict(self)
        if values["media_root"] is not None:
            values["media_root"] = str(values["media_root"])
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        """Settings from `to_json`'s output; unknown names are refused."""
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"server settings are not JSON: {exc}", field="settings") from exc
        if not isinstance(values, dict):
            raise ValidationError("server settings must be a JSON object", field="settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError(
                f"unknown server settings: {', '.join(unknown)}", field=unknown[0]
            )
        return cls(**values)

    @classmethod
    def from_environment(cls) -> ServerSettings:
        """Settings from ``$LABELLOOP_SERVER_SETTINGS`` (JSON), else the defaults."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls()
