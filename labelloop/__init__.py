"""labelloop: active learning for data annotation.

The model picks the items a human should label next, humans label them, the model
retrains, and the loop repeats until labelling stops paying off.

Public names are imported lazily so ``import labelloop`` stays fast::

    from labelloop import ActiveLearner, simulate, strategies
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ActiveLearner": ("labelloop.learner", "ActiveLearner"),
    "simulate": ("labelloop.simulation", "simulate"),
    "SimulationResult": ("labelloop.simulation", "SimulationResult"),
    "Workspace": ("labelloop.engine.workspace", "Workspace"),
    "strategies": ("labelloop.strategies", None),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'labelloop' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
