"""``auto``'s rare-class and group options in a project's rounds, set as settings."""

from __future__ import annotations

import random

import pytest
from test_rounds import NEGATIVE, POSITIVE

from labelloop.engine import rounds
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.exceptions import ValidationError

RARE = ["zebra", "quokka", "okapi"]


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _project(db, **settings) -> str:
    create_project(
        db, actor="x", name="animals", task_type="classification",
        labels=["pos", "neg", "rare"], strategy="auto",
        settings={"eval_share": 0.2, "eval_min": 20, "batch_size": 10, **settings},
    )  # fmt: skip
    rng = random.Random(3)
    records = []
    for i in range(300):
        label = "rare" if i % 50 == 0 else ("pos" if i % 2 else "neg")
        vocabulary = {"rare": RARE, "pos": POSITIVE, "neg": NEGATIVE}[label]
        record = {"id": f"r{i}", "text": " ".join(rng.choices(vocabulary, k=4) + [f"w{i}"])}
        if i < 60 or i == 100:
            record["label"] = label
        record["meta"] = {"sex": "f" if i % 3 == 0 else "m"}
        records.append(record)
    import_items(db, actor="x", project="animals", records=records)
    return "animals"


def test_rare_mode_puts_neighbours_of_rare_examples_in_the_queue(db):
    project = _project(db, rare_classes="on")
    rounds.train(db, actor="x", project=project)
    reasons = [row.reason for row in rounds.query(db, project=project, n=10)]
    near = [r for r in reasons if "near a rare class example" in r]
    assert near and all("rare" in r for r in near)


def test_rare_mode_off_by_default(db):
    project = _project(db)
    rounds.train(db, actor="x", project=project)
    reasons = [row.reason for row in rounds.query(db, project=project, n=10)]
    assert not any("near a rare class example" in r for r in reasons)


def test_balance_gives_picks_to_the_group_with_fewer_labels(db):
    project = _project(db, group_fields=["sex"], group_sampling="balance")
    rounds.train(db, actor="x", project=project)
    reasons = [row.reason for row in rounds.query(db, project=project, n=10)]
    assert any("group f has the fewest labels" in r for r in reasons)


def test_minmax_draws_from_the_group_worst_served_on_the_evaluation_set(db):
    project = _project(db, group_fields=["sex"], group_sampling="minmax")
    rounds.train(db, actor="x", project=project)
    reasons = [row.reason for row in rounds.query(db, project=project, n=10)]
    worst = {r.split("group ")[1].split(" ")[0] for r in reasons if "serves worst" in r}
    assert len(worst) == 1 and worst <= {"f", "m"}


def test_minmax_without_evaluation_labels_samples_without_groups():
    from labelloop.engine.rounds.groups import AutoInputs

    options = AutoInputs(group_sampling="minmax", pool_groups={1: "f"}, labelled_groups=[])
    assert options.options()["group_sampling"] == "off"


def test_bad_values_refused_naming_the_setting(db):
    project = _project(db)
    for name, value in (("rare_classes", "yes"), ("group_sampling", "fair")):
        with pytest.raises(ValidationError) as raised:
            update_settings(db, actor="x", project=project, changes={name: value})
        assert raised.value.field == name
