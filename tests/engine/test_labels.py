"""The final-label rule, as a table."""

from __future__ import annotations

import pytest

from labelloop.engine.core.labels import decide_label, model_label, review_reason


@pytest.mark.parametrize(
    ("labels", "complete", "due", "verdict", "reviewed", "expected"),
    [
        # single annotation, final unless review is due
        (["pos"], True, None, None, None, ("annotated", "pos", "human", None)),
        (["pos"], True, "sample", None, None, ("in_review", "pos", "human", "sample")),
        # waiting for more annotations (overlap)
        (["pos"], False, None, None, None, ("open", None, None, None)),
        ([], True, None, None, None, ("open", None, None, None)),
        # majority wins, tie goes to review
        (["pos", "pos", "neg"], True, None, None, None, ("annotated", "pos", "human", None)),
        (["pos", "neg"], True, None, None, None, ("in_review", None, None, "tie")),
        (["a", "b", "c"], True, None, None, None, ("in_review", None, None, "tie")),
        # multi-label sets are one vote each
        (
            [["a", "b"], ["a"], ["a", "b"]],
            True,
            None,
            None,
            None,
            ("annotated", ["a", "b"], "human", None),
        ),
        # a reviewer's correction wins over everything, an accept confirms
        (["pos", "pos"], True, None, "correct", "neg", ("accepted", "neg", "review", None)),
        (["pos", "neg"], False, "all", "correct", "neg", ("accepted", "neg", "review", None)),
        (["pos", "neg"], True, None, "accept", "pos", ("accepted", "pos", "human", None)),
    ],
)
def test_decide_label(labels, complete, due, verdict, reviewed, expected):
    decision = decide_label(
        labels, complete=complete, due=due, verdict=verdict, reviewed_label=reviewed
    )
    assert (
        decision.status,
        decision.final_label,
        decision.source,
        decision.review_reason,
    ) == expected


def test_review_reason_policies():
    assert review_reason((), labels=["a"], winner="a") is None
    assert review_reason(("all",), labels=["a"], winner="a") == "all"
    assert review_reason(("model_disagrees",), labels=["a"], winner="a", predicted="b") == (
        "model_disagrees"
    )
    assert review_reason(("model_disagrees",), labels=["a"], winner="a", predicted="a") is None
    assert review_reason(("model_disagrees",), labels=["a"], winner="a") is None
    assert review_reason(("annotators_disagree",), labels=["a", "a", "b"], winner="a") == (
        "annotators_disagree"
    )
    assert review_reason(("annotators_disagree",), labels=["a", "a"], winner="a") is None


def test_percent_policy_is_a_reproducible_share():
    draws = [
        review_reason(("percent",), labels=["a"], winner="a", percent=30, seed=f"1:{i}")
        for i in range(2000)
    ]
    again = [
        review_reason(("percent",), labels=["a"], winner="a", percent=30, seed=f"1:{i}")
        for i in range(2000)
    ]
    assert draws == again
    assert 0.26 < draws.count("sample") / 2000 < 0.34
    assert review_reason(("percent",), labels=["a"], winner="a", percent=0, seed="x") is None
    assert review_reason(("percent",), labels=["a"], winner="a", percent=100, seed="x") == (
        "sample"
    )


def test_model_label():
    assert model_label({"pos": 0.3, "neg": 0.7}, multi_label=False) == "neg"
    assert model_label({"a": 0.6, "b": 0.2, "c": 0.5}, multi_label=True) == ["a", "c"]
    assert model_label({}, multi_label=False) is None
