"""Estimators that fail on purpose, importable by the worker processes of a LocalCluster."""

from __future__ import annotations

import os

from sklearn.linear_model import LogisticRegression


class DiesOnce(LogisticRegression):
    """Kills the process that first asks it for probabilities once ``marker_`` is set.

    The marker file is created atomically, so exactly one call in one process dies.
    """

    marker_: str | None = None

    def predict_proba(self, X):
        if self.marker_ is not None:
            try:
                os.close(os.open(self.marker_, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os._exit(17)
        return super().predict_proba(X)
