"""Stream decisions under a hard labelling budget: ask a human now, or let the item pass.

Items arrive one at a time; each gets its informativeness from the current model (any
score of this package, higher = ask first) and a decision on arrival. The rules:

1. **A hard budget.** With budget ``B`` (a share of arrivals), after ``t`` arrivals the
   items asked are at most ``floor(B * t) + 1``: an ask that would break this is refused,
   at every moment, not on average. With ``labels_per_hour`` the bound is
   ``floor(R * hours since the first arrival) + 1`` instead.
2. **No bursts.** Within any ``window`` consecutive arrivals at most
   ``floor(B * window) + 1`` items are asked (share budgets), so budget saved in a quiet
   stretch is not spent all at once when the stream turns interesting.
3. **Variable uncertainty** (Zliobaite et al. 2014): an item is asked when its
   informativeness reaches the threshold ``theta``; after an ask ``theta`` rises by the
   factor ``1 + step``, after a pass it falls by ``1 - step``, so the threshold follows
   the stream's scale and spends the budget where the model is least sure. It moves
   only while the budget could act on it, and exploration does not move it.
4. **Exploration.** A share ``explore`` of arrivals, drawn at random (seeded, by arrival
   number, so a replay decides alike), is asked whatever its score while the budget
   allows: a guard against drift far from the decision boundary, where the model is
   confidently wrong.
5. Every decision carries its reason in words.

The state is a small dict of numbers (`StreamState`), kept between arrivals by the
caller: in memory for `BudgetedStream`, in the database for the engine's stream mode.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = [
    "BudgetedStream",
    "StreamDecision",
    "StreamPolicy",
    "StreamState",
    "decide",
    "explores",
    "pass_on",
]


@dataclass(frozen=True)
class StreamPolicy:
    """How a stream spends its labels (see the module's rules).

    Parameters
    ----------
    budget : float
        The share of arrivals that may be asked, in [0, 1] (rule 1).
    labels_per_hour : float or None
        A rate budget instead of a share, when given (rule 1).
    explore : float
        The share of arrivals asked at random, in [0, 1) (rule 4).
    step : float
        How fast the threshold moves, in [0, 1) (rule 3; 0 keeps it fixed).
    window : int
        The burst window in arrivals (rule 2).
    initial_threshold : float
        The threshold before the first arrival.
    seed : int
        Seeds the exploration draws.
    """

    budget: float = 0.1
    labels_per_hour: float | None = None
    explore: float = 0.1
    step: float = 0.01
    window: int = 500
    initial_threshold: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        _check_number(self.budget, "budget", low=0.0, high=1.0)
        if self.labels_per_hour is not None:
            _check_number(self.labels_per_hour, "labels_per_hour", low=0.0, low_open=True)
        _check_number(self.explore, "explore", low=0.0, high=1.0, high_open=True)
        _check_number(self.step, "step", low=0.0, high=1.0, high_open=True)
        _check_number(self.initial_threshold, "initial_threshold", low=0.0, low_open=True)
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValidationError(
                f"window must be a positive number of arrivals, got {self.window!r}",
                field="window",
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValidationError(f"seed must be an int, got {self.seed!r}", field="seed")

    @property
    def burst(self) -> int:
        """Rule 2: the most asks within any ``window`` arrivals."""
        return math.floor(self.budget * self.window) + 1


@dataclass(frozen=True)
class StreamState:
    """Where a stream stands: arrivals, asks, the threshold and the recent asks."""

    arrivals: int = 0
    asked: int = 0
    threshold: float | None = None
    started_at: dt.datetime | None = None
    recent: tuple[int, ...] = field(default_factory=tuple)  # arrival numbers of the last asks

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable."""
        return {
            "arrivals": self.arrivals,
            "asked": self.asked,
            "threshold": self.threshold,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "recent": list(self.recent),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StreamState:
        """The state `to_dict` wrote (an empty one for None)."""
        if not data:
            return cls()
        started = data.get("started_at")
        return cls(
            arrivals=int(data.get("arrivals", 0)),
            asked=int(data.get("asked", 0)),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            started_at=None if started is None else dt.datetime.fromisoformat(started),
            recent=tuple(int(x) for x in data.get("recent", ())),
        )


@dataclass(frozen=True)
class StreamDecision:
    """One arrival's decision: ``ask`` or not, why, and the state after it."""

    ask: bool
    reason: str
    informativeness: float
    threshold: float
    allowed: int
    state: StreamState


def _check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lower = "-inf" if low is None else low
        upper = "inf" if high is None else high
        span = f"{left}{lower}, {upper}{right}"
        raise ValidationError(f"{name} must be a number in {span}, got {value!r}", field=name)


def _allowed(policy: StreamPolicy, arrivals: int, started: dt.datetime, now: dt.datetime) -> int:
    """Rule 1: how many asks the budget allows after ``arrivals`` arrivals."""
    if policy.labels_per_hour is not None:
        hours = max((now - started).total_seconds(), 0.0) / 3600.0
        return math.floor(policy.labels_per_hour * hours) + 1
    return math.floor(policy.budget * arrivals + 1e-9) + 1


def _explores(policy: StreamPolicy, arrival: int) -> bool:
    if policy.explore == 0.0:
        return False
    return bool(np.random.default_rng([policy.seed, arrival]).random() < policy.explore)


def explores(policy: StreamPolicy, state: StreamState) -> bool:
    """Whether the next arrival is drawn for exploration (rule 4), budget aside."""
    return _explores(policy, state.arrivals + 1)


def pass_on(
    state: StreamState,
    policy: StreamPolicy,
    reason: str,
    *,
    informativeness: float | None = None,
    now: dt.datetime | None = None,
) -> StreamDecision:
    """An arrival decided without people (e.g. auto-labelled): counted, not asked.

    It spends no budget and does not move the threshold (only `decide`'s threshold
    decisions do).
    """
    now = now or dt.datetime.now(dt.UTC)
    started = state.started_at or now
    arrival = state.arrivals + 1
    threshold = policy.initial_threshold if state.threshold is None else state.threshold
    recent = tuple(i for i in state.recent if i > arrival - policy.window)
    after = replace(state, arrivals=arrival, threshold=threshold, started_at=started, recent=recent)
    allowed = _allowed(policy, arrival, started, now)
    return StreamDecision(False, reason, float(informativeness or 0.0), threshold, allowed, after)


def decide(
    informativeness: float | None,
    state: StreamState,
    policy: StreamPolicy,
    *,
    now: dt.datetime | None = None,
    forced: str | None = None,
) -> StreamDecision:
    """Decide one arrival: ask a human now, or let it pass (the module's rules).

    Parameters
    ----------
    informativeness : float or None
        The arrival's score (higher = ask first); None when there is no model yet, when
        only exploration and the budget decide (the cold start asks while it may).
    state : StreamState
        The stream's state before this arrival.
    policy : StreamPolicy
    now : datetime, optional
        The arrival's time (for ``labels_per_hour``; default now, UTC).
    forced : str, optional
        A reason to ask whatever the score (e.g. the arrival was drawn for an evaluation
        set), while the budget allows; it does not move the threshold.

    Returns
    -------
    StreamDecision
        With the state after this arrival.
    """
    if informativeness is not None:
        _check_number(informativeness, "informativeness")
    now = now or dt.datetime.now(dt.UTC)
    started = state.started_at or now
    arrival = state.arrivals + 1
    allowed = _allowed(policy, arrival, started, now)
    threshold = policy.initial_threshold if state.threshold is None else state.threshold
    recent = tuple(i for i in state.recent if i > arrival - policy.window)
    budget_left = state.asked < allowed
    burst_left = policy.labels_per_hour is not None or len(recent) < policy.burst

    moves = False  # rule 3: only a decision by the threshold moves it
    if not budget_left:
        ask, why = False, f"budget spent: {state.asked} of {allowed} asks so far"
    elif not burst_left:
        ask, why = False, f"{len(recent)} asks in the last {policy.window} arrivals already"
    elif forced is not None:
        ask, why = True, forced
    elif informativeness is None:
        ask, why = True, "no model yet: asked to start one"
    elif _explores(policy, arrival):
        ask, why = True, "exploration: a random arrival, asked whatever the model says"
    else:
        moves = True
        ask = informativeness >= threshold
        sign = ">=" if ask else "<"
        why = "the model is unsure" if ask else "the model is sure enough"
        why = f"{why}: {informativeness:.3f} {sign} {threshold:.3f}"
    if moves:
        threshold = threshold * (1 + policy.step) if ask else threshold * (1 - policy.step)
    if ask:
        recent = (*recent, arrival)[-policy.burst :]
    after = replace(
        state,
        arrivals=arrival,
        asked=state.asked + int(ask),
        threshold=threshold,
        started_at=started,
        recent=recent,
    )
    return StreamDecision(ask, why, float(informativeness or 0.0), threshold, allowed, after)


class BudgetedStream:
    """`decide` with its state kept in memory, for notebooks and simulations.

    Examples
    --------
    >>> stream = BudgetedStream(StreamPolicy(budget=0.1, explore=0.0))
    >>> asked = [stream.offer(u).ask for u in [0.9, 0.1, 0.95, 0.2, 0.3]]
    >>> sum(asked) <= 0.1 * 5 + 1
    True
    """

    def __init__(self, policy: StreamPolicy | None = None) -> None:
        self.policy = policy or StreamPolicy()
        self.state = StreamState()

    def offer(
        self, informativeness: float | None, *, now: dt.datetime | None = None
    ) -> StreamDecision:
        """Decide one arrival and keep the state."""
        decision = decide(informativeness, self.state, self.policy, now=now)
        self.state = decision.state
        return decision
