"""A service configured with a Dask scheduler retrains on that cluster (real app, real cluster)."""

from __future__ import annotations

import time

import pytest

from labelloop.engine import annotate

distributed = pytest.importorskip("distributed")

API = "/api/v1"


@pytest.fixture
def address():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_a_retrain_asked_over_the_api_scores_on_the_configured_cluster(make_world, address):
    world = make_world(worker=True, dask=address, worker_poll_seconds=0.05)
    for i in range(12):
        annotate.record_annotation(
            world.db, actor="cli:test", project=world.project_id, external_id=f"r{i}",
            label="pos" if i % 2 else "neg",
        )  # fmt: skip
    queued = world.call("admin", "POST", f"{API}/projects/{world.project_id}/retrain")
    assert queued.status_code in (200, 201, 202), queued.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        (job,) = world.call("admin", "GET", f"{API}/projects/{world.project_id}/jobs").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done", job["error"]
    rounds = world.call("admin", "GET", f"{API}/projects/{world.project_id}/rounds").json()
    cluster = rounds[-1]["metrics"]["dask"]
    assert cluster["pool_scored"] == rounds[-1]["metrics"]["pool_size"] == sum(cluster["histogram"])
