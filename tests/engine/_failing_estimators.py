"""Estimators that fail at a chosen step, for the failed-round tests (importable by path)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

__all__ = ["FitFails", "PoolPredictionFails"]


class FitFails(LogisticRegression):
    """Fails to fit, as an estimator given data it cannot take does."""

    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("the estimator cannot fit these labels")


class PoolPredictionFails(LogisticRegression):
    """Predicts small sets (the evaluation set, cross-validation folds), fails on the pool."""

    def predict_proba(self, X):
        if X.shape[0] > 100:
            raise RuntimeError("the estimator ran out of memory on the pool")
        return super().predict_proba(X)
