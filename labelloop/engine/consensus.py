"""Fitting a project's annotators by Dawid-Skene, on demand (each round does it too).

Rules
-----
1. `fit_annotators` makes a new fit from every item the project has with votes from two
   or more annotators (`labelloop.engine.core.final_label.refit_consensus`), stores it,
   and settles again the labelled items with two or more annotators by the project's
   ``consensus`` setting; all in one transaction with its ``consensus.fitted`` event.
2. Nothing to fit (fewer than two items with two annotators, or a single label among
   them) is not an error: the result says so (``fitted`` false) and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelloop.engine.core.final_label import refit_consensus
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.store.db import Database

__all__ = ["ConsensusFitInfo", "fit_annotators"]


@dataclass(frozen=True)
class ConsensusFitInfo:
    """What a fit found.

    Attributes
    ----------
    project_id : int
    method : str
        The project's ``consensus`` setting.
    fitted : bool
    n_items : int
        Items with two or more annotators it was fitted on.
    changed : int
        Items whose final label or status changed.
    accuracy : dict of str to float
        Each annotator's estimated accuracy.
    """

    project_id: int
    method: str
    fitted: bool
    n_items: int
    changed: int
    accuracy: dict[str, float]


def fit_annotators(db: Database, *, project: int | str, actor: str) -> ConsensusFitInfo:
    """Fit the project's annotators and settle the items the fit decides (rules 1 and 2).

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    actor : str
        Who asks, for the audit event.

    Returns
    -------
    ConsensusFitInfo
    """
    with db.transaction() as session:
        row = resolve_project(session, project)
        method = str(effective_settings(row).get("consensus"))
        fit, changed = refit_consensus(session, row, actor=actor)
        if fit is None:
            return ConsensusFitInfo(row.id, method, False, 0, 0, {})
        return ConsensusFitInfo(row.id, method, True, fit.n_items, changed, fit.accuracy())
