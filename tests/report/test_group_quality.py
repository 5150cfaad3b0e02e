"""Per-group quality with bootstrap intervals (`labelloop.report.fairness`)."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.report.fairness import group_quality, macro_f1


def test_a_group_served_worse_is_flagged_and_a_small_one_is_kept():
    rng = np.random.default_rng(0)
    truth = rng.choice(["x", "y"], size=600)
    predicted = truth.copy()
    groups = np.array(["big"] * 400 + ["worse"] * 180 + ["tiny"] * 20)
    wrong = rng.random(600) < np.where(groups == "worse", 0.4, 0.05)
    predicted[wrong] = np.where(truth[wrong] == "x", "y", "x")
    rows = {q.group: q for q in group_quality(truth, predicted, groups, seed=1)}
    assert list(rows) == ["big", "worse", "tiny"]  # largest first
    assert rows["worse"].gap_flagged and rows["worse"].accuracy_gap < 0
    assert rows["tiny"].small and rows["tiny"].accuracy is not None
    for q in rows.values():
        assert q.accuracy_ci[0] <= q.accuracy <= q.accuracy_ci[1]
        assert q.accuracy_gap_ci[0] <= q.accuracy_gap <= q.accuracy_gap_ci[1]


def test_the_same_seed_gives_the_same_intervals():
    args = (["a", "b", "a", "b"] * 20, ["a", "a", "a", "b"] * 20, ["g", "h"] * 40)
    assert group_quality(*args, seed=3) == group_quality(*args, seed=3)


def test_macro_f1_averages_over_the_labels_given():
    assert macro_f1(np.array(["a", "a"]), np.array(["a", "a"]), ["a", "b"]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"groups": ["g"]}, "groups"), ({"n_boot": 0}, "n_boot"), ({"min_n": True}, "min_n")],
)
def test_bad_arguments_name_themselves(kwargs, field):
    options = {"y_true": ["a", "b"], "y_pred": ["a", "b"], "groups": ["g", "h"], **kwargs}
    with pytest.raises(ValidationError) as caught:
        group_quality(**options)
    assert caught.value.field == field
