"""A round scored on a real Dask LocalCluster picks what the one-process round picks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_rounds import ACTOR, make_text_project

from labelloop.engine import jobs
from labelloop.engine.rounds import list_rounds, scoring, train
from labelloop.engine.workspace import Workspace
from labelloop.exceptions import ValidationError
from labelloop.server.settings import ServerSettings
from labelloop.server.worker import job_worker
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, PredictionRow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def address():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK_SIZE", 40)  # several partitions from a small pool


@pytest.fixture
def twin(tmp_path):
    db = Database.from_url(str(tmp_path / "twin.db"))
    db.create_schema()
    yield db
    db.dispose()


def pool_predictions(db) -> int:
    with db.read() as session:
        return session.execute(
            select(func.count())
            .select_from(PredictionRow)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(ItemRow.is_eval.is_(False))
        ).scalar_one()


@pytest.mark.parametrize("strategy", ["auto", "margin"])
def test_rounds_on_dask_pick_the_one_process_batch(sqlite_db, twin, address, small_pages, strategy):
    here = make_text_project(sqlite_db, strategy=strategy)
    there = make_text_project(twin, strategy=strategy)
    for _ in range(2):  # the second round starts from the first one's state
        alone = train(sqlite_db, actor=ACTOR, project=here)
        spread = train(twin, actor=ACTOR, project=there, dask=address)
        assert spread.batch == alone.batch
        assert spread.strategy == alone.strategy
        assert spread.metrics["strategy_state"] == alone.metrics["strategy_state"]
        assert spread.metrics["max_uncertainty"] == alone.metrics["max_uncertainty"]
        cluster = spread.metrics["dask"]
        pool_size = alone.metrics["pool_size"]
        assert cluster["partitions"] == -(-pool_size // 40) > 1
        assert cluster["pool_scored"] == sum(cluster["histogram"]) == pool_size
        assert "dask" not in alone.metrics
    # Predictions of the candidates only: at most a batch per partition, not the pool.
    assert pool_predictions(twin) < pool_predictions(sqlite_db)


def test_a_cold_start_on_dask_picks_the_one_process_batch(sqlite_db, twin, address, small_pages):
    alone = train(sqlite_db, actor=ACTOR, project=make_text_project(sqlite_db, n_labelled=0))
    spread = train(twin, actor=ACTOR, project=make_text_project(twin, n_labelled=0), dask=address)
    assert alone.model_version is None and spread.model_version is None
    assert spread.batch == alone.batch
    assert "histogram" not in spread.metrics["dask"]


def test_auto_with_a_whole_pool_option_scores_in_process(sqlite_db, twin, address, small_pages):
    alone = train(sqlite_db, actor=ACTOR, project=make_text_project(sqlite_db, rare_classes="on"))
    there = make_text_project(twin, rare_classes="on")
    spread = train(twin, actor=ACTOR, project=there, dask=address)
    # Rare-class neighbours look across the whole pool: the round stays in this process.
    assert "dask" not in spread.metrics and "rare_classes" in spread.metrics["dask_skipped"]
    assert spread.batch == alone.batch


def test_the_environment_names_the_cluster(twin, address, monkeypatch):
    monkeypatch.setenv("LABELLOOP_DASK", address)
    info = train(twin, actor=ACTOR, project=make_text_project(twin))
    assert info.metrics["dask"]["partitions"] == 1
    monkeypatch.setenv("LABELLOOP_DASK", "")
    assert "dask" not in train(twin, actor=ACTOR, project="reviews").metrics


def test_a_workspace_scores_on_its_cluster(tmp_path, address):
    with Workspace(str(tmp_path / "ws.db"), actor=ACTOR, dask=address) as workspace:
        make_text_project(workspace.db)
        info = workspace.project("reviews").train()
    assert info.metrics["dask"]["pool_scored"] == info.metrics["pool_size"]
    with pytest.raises(ValidationError) as caught:
        Workspace(str(tmp_path / "ws.db"), dask="  ")
    assert caught.value.field == "dask"


def test_the_service_worker_retrains_on_its_cluster(twin, address):
    project = make_text_project(twin)
    jobs.enqueue_retrain(twin, project_id=project, actor=ACTOR)
    worker = job_worker(twin, dask=ServerSettings(dask=address).dask)
    done = jobs.run_next_job(twin, runners=worker.runners)
    assert done.status == "done", done.error
    (round_,) = list_rounds(twin, project)
    assert round_.metrics["dask"]["pool_scored"] == round_.metrics["pool_size"]


def test_the_service_setting_is_checked_and_travels_to_worker_processes(address):
    settings = ServerSettings(dask=address)
    assert ServerSettings.from_json(settings.to_json()).dask == address
    with pytest.raises(ValidationError) as caught:
        ServerSettings(dask="")
    assert caught.value.field == "dask"
