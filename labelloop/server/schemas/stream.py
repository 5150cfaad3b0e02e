"""Stream mode: an offer's decision and the stream's state are the engine's dataclasses."""

from __future__ import annotations

from labelloop.engine.stream import StreamOffer, StreamStatus

__all__ = ["StreamOffer", "StreamStatus"]
