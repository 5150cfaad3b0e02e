"""Agreement measures, checked against values worked out by hand."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import annotate, queue, review
from labelloop.engine.agreement import (
    agreement_report,
    cohen_kappa,
    krippendorff_alpha_nominal,
)
from labelloop.store.tables import ReviewTaskRow


def test_cohen_kappa_by_hand():
    # p_o = 4/5; p_e = 3/5 * 2/5 + 2/5 * 3/5 = 0.48; kappa = 0.32 / 0.52
    a = ["x", "x", "y", "y", "x"]
    b = ["x", "y", "y", "y", "x"]
    assert cohen_kappa(a, b) == pytest.approx(0.32 / 0.52)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    assert cohen_kappa([], []) is None


def test_krippendorff_alpha_by_hand():
    # Coincidences: aa=4, ab=ba=1, bb=3; n_a=5, n_b=4, n=9;
    # alpha = 1 - (9 - 1) * 2 / (2 * 5 * 4) = 0.6
    units = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"], ["a"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.6)
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None


def test_agreement_report(database):
    project = make_project(
        database, settings={"overlap": 3, "eval_share": 0, "review_policy": "all"}
    )
    add_items(database, project, 3, overlap=3)
    users = [make_user(database, n) for n in ("a", "b", "c")]
    # items it0..it2 in priority order; labels per annotator, item by item
    given = {"a": ["pos", "pos", "neg"], "b": ["pos", "neg", "neg"], "c": ["pos", "pos", "neg"]}
    for user in users:
        for label in given[user.name]:
            task = queue.lease_next_task(database, project_id=project, user=user)
            annotate.submit_annotation(database, task_id=task.id, user=user, label=label)
    rev = make_user(database, "rev", role="reviewer")
    verdicts = iter([("accept", None), ("correct", "neg"), ("accept", None)])
    while (leased := review.lease_next_review(database, project_id=project, user=rev)) is not None:
        verdict, label = next(verdicts)
        review.submit_review(
            database, review_task_id=leased.id, user=rev, verdict=verdict, label=label
        )
    with database.read() as session:
        assert session.execute(select(ReviewTaskRow.status)).scalars().all() == ["done"] * 3

    report = agreement_report(database, project)
    assert report["n_items_shared"] == 3
    # pairs agreeing: it0 3/3, it1 1/3 (a-c), it2 3/3 -> 7/9
    assert report["percent_agreement"] == pytest.approx(7 / 9, abs=1e-6)
    kappas = {tuple(p["annotators"]): p["kappa"] for p in report["pairs"]}
    # a vs b: p_o = 2/3, p_e = (2/3)(1/3) + (1/3)(2/3) = 4/9 -> kappa = (2/9) / (5/9) = 0.4
    assert kappas[("a", "b")] == pytest.approx(0.4, abs=1e-6)
    assert kappas[("a", "c")] == pytest.approx(1.0)
    # units: [p,p,p], [p,n,p], [n,n,n]: o_pp=4, o_pn=o_np=1, o_nn=3 -> alpha = 0.6
    assert report["krippendorff_alpha"] == pytest.approx(0.6, abs=1e-6)
    per = {row["name"]: row for row in report["annotators"]}
    assert per["a"]["mean_kappa"] == pytest.approx(0.7, abs=1e-6)
    # it1 was corrected to "neg": a and c corrected there, b too (a correction covers all)
    assert (per["b"]["accepted"], per["b"]["corrected"]) == (2, 1)
    assert per["a"]["review_agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert report["reviews"]["reviewed"] == 9
