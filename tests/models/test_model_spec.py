"""The ``model`` setting's checks agree with what a fitted model does."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.models.adapters import member_proba
from labelloop.models.spec import build_classifier, check_model_spec, gives_members

SPECS = [
    None,
    "logistic_regression",
    "gradient_boosting",
    "sklearn.naive_bayes:GaussianNB",
    "sklearn.ensemble:RandomForestClassifier",
    "sklearn.ensemble:ExtraTreesClassifier",
    "sklearn.ensemble:BaggingClassifier",
    "sklearn.ensemble:AdaBoostClassifier",
    "sklearn.ensemble:GradientBoostingClassifier",
    {"estimator": "sklearn.neighbors:KNeighborsClassifier", "params": {"n_neighbors": 3}},
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_gives_members_says_what_member_proba_finds_in_the_fitted_model(spec):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["a", "b"] * 20)
    X[y == "b"] += 1.5
    classifier = build_classifier(check_model_spec(spec), task_type="tabular").fit(X, y)
    found = member_proba(classifier, X[:5], classes=["a", "b"], random_state=0)
    assert gives_members(spec) == (found is not None)


def test_multi_label_models_never_give_members():
    assert gives_members("sklearn.ensemble:RandomForestClassifier")
    assert not gives_members("sklearn.ensemble:RandomForestClassifier", multi_label=True)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("sklearn.svm:SVC", "no predict_proba"),
        ("sklearn.linear_model:Ridge", "fit and predict_proba"),
        (
            {"estimator": "sklearn.ensemble:RandomForestClassifier", "params": {"trees": 3}},
            "rejects",
        ),
    ],
)
def test_a_model_that_cannot_give_probabilities_is_refused(spec, words):
    with pytest.raises(ValidationError, match=words) as err:
        check_model_spec(spec)
    assert err.value.field == "model"
