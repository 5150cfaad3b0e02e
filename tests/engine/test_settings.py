"""The settings table: one declaration gives the defaults, the checks and the help."""

from __future__ import annotations

import json

import pytest
from _service_setup import make_project

from labelloop.engine import projects
from labelloop.engine.core import settings
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import ValidationError


def test_every_setting_is_declared_once_with_a_valid_default():
    names = [setting.name for setting in settings.SETTINGS]
    assert len(names) == len(set(names))
    assert list(settings.DEFAULT_SETTINGS) == names
    for setting in settings.SETTINGS:
        assert setting.help and setting.help == setting.help.strip()
        json.dumps(setting.default)  # stored in the project's JSON column
        assert setting.check(setting.name, setting.default) == setting.default


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("batch_size", 0),
        ("batch_size", 100_001),
        ("batch_size", True),
        ("overlap", 21),
        ("review_percent", 101),
        ("eval_share", 1),
        ("lease_seconds", 7 * 24 * 3600 + 1),
        ("show_model_guess", "yes"),
        ("review_policy", ["none", "all"]),
        ("media_root", "  "),
        ("label_budget", 0),
        ("model", 3),
    ],
)
def test_a_value_out_of_its_range_is_refused_naming_the_setting(name, value):
    with pytest.raises(ValidationError) as err:
        settings.check_settings({name: value})
    assert err.value.field == name


def test_an_unknown_setting_is_refused_with_the_known_ones():
    with pytest.raises(ValidationError) as err:
        settings.check_settings({"batchsize": 3})
    assert err.value.field == "batchsize"
    assert "batch_size" in str(err.value) and "strategy" in str(err.value)


def test_a_setting_added_later_reads_as_its_default(sqlite_db):
    project = make_project(sqlite_db)
    with sqlite_db.transaction() as session:
        row = resolve_project(session, project)
        row.settings = {"batch_size": 7}  # stored before the other settings existed
        session.flush()
        assert settings.effective_settings(row) == {**settings.DEFAULT_SETTINGS, "batch_size": 7}
        assert settings.project_setting(row, "lease_seconds") == 600


def test_the_model_setting_is_also_checked_by_the_model_layer(sqlite_db):
    project = make_project(sqlite_db)
    with pytest.raises(ValidationError) as err:
        projects.update_settings(
            sqlite_db, actor="t", project=project, changes={"model": "no_such_model"}
        )
    assert err.value.field == "model"


# Settings that can never train are refused when set, naming the setting.

FOREST = "sklearn.ensemble:RandomForestClassifier"


@pytest.mark.parametrize("svc", ["sklearn.svm:SVC", {"estimator": "sklearn.svm:SVC"}])
def test_an_estimator_without_predict_proba_is_refused_when_set(sqlite_db, svc):
    with pytest.raises(ValidationError, match="no predict_proba") as created:
        make_project(sqlite_db, settings={"model": svc})
    assert created.value.field == "model"
    project = make_project(sqlite_db)
    with pytest.raises(
        ValidationError, match="pick a classifier that gives probabilities"
    ) as changed:
        projects.update_settings(sqlite_db, actor="t", project=project, changes={"model": svc})
    assert changed.value.field == "model"
    fixed = {"estimator": "sklearn.neighbors:KNeighborsClassifier", "params": {"n_neighbors": 3}}
    info = projects.update_settings(sqlite_db, actor="t", project=project, changes={"model": fixed})
    assert info.settings["model"] == fixed


@pytest.mark.parametrize("strategy", ["vote_entropy", "kl_disagreement", "bald"])
def test_a_committee_strategy_needs_a_model_that_gives_members(sqlite_db, strategy):
    with pytest.raises(ValidationError, match="needs a committee") as created:
        projects.create_project(
            sqlite_db, actor="t", name="one", task_type="classification", labels=["a", "b"],
            strategy=strategy,
        )  # fmt: skip
    assert created.value.field == "strategy"
    project = make_project(sqlite_db)
    with pytest.raises(ValidationError, match="needs a committee") as changed:
        projects.update_settings(
            sqlite_db, actor="t", project=project, changes={"strategy": strategy}
        )
    assert changed.value.field == "strategy"
    info = projects.update_settings(
        sqlite_db, actor="t", project=project, changes={"strategy": strategy, "model": FOREST}
    )
    assert (info.strategy, info.settings["model"]) == (strategy, FOREST)
    # Taking the ensemble away again names the model: it is what changed.
    with pytest.raises(ValidationError, match="the default model") as back:
        projects.update_settings(sqlite_db, actor="t", project=project, changes={"model": None})
    assert back.value.field == "model"
    assert projects.get_project_info(sqlite_db, project).settings["model"] == FOREST


def test_a_committee_strategy_is_refused_for_a_multi_label_project(sqlite_db):
    project = make_project(sqlite_db, multi_label=True, settings={"model": FOREST})
    with pytest.raises(ValidationError, match="multi-label") as err:
        projects.update_settings(
            sqlite_db, actor="t", project=project, changes={"strategy": "bald"}
        )
    assert err.value.field == "strategy"
