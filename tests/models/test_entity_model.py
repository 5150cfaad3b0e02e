"""The entity project's model: BIO tags from spans, spans and sentence scores from one pass,
and an artifact that loads back as it was saved."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.models.crf import SEQUENCE_SCORES
from labelloop.models.entities import EntityModel, bio_tags
from labelloop.ner import tokenize

pytest.importorskip("pycrfsuite")

TEXTS = ["Ann met Bob in Oslo", "Bob left Rome", "nobody came", "Eve flew to Lima"]
SPANS = [
    [(0, 3, "PER"), (8, 11, "PER"), (15, 19, "LOC")],
    [(0, 3, "PER"), (9, 13, "LOC")],
    [],
    [(0, 3, "PER"), (12, 16, "LOC")],
]


def _spans(rows):
    return [[{"start": s, "end": e, "label": label} for s, e, label in row] for row in rows]


def _model():
    return EntityModel(["PER", "LOC"], max_iterations=30).fit(TEXTS, _spans(SPANS))


def test_a_token_touching_a_span_is_in_it():
    tokens = tokenize("New York rocks")
    assert bio_tags([{"start": 1, "end": 6, "label": "LOC"}], tokens) == ["B-LOC", "I-LOC", "O"]
    assert bio_tags([], tokens) == ["O", "O", "O"]


@pytest.mark.parametrize("method", SEQUENCE_SCORES)
def test_predictions_carry_spans_scores_and_token_counts(method):
    predicted = _model().predict(["Ann left Oslo", "", "Bob met Eve"], method=method)
    assert predicted.n_tokens.tolist() == [3, 0, 3]
    assert predicted.informativeness.shape == (3,) and predicted.informativeness[1] == 0
    assert np.all(predicted.informativeness >= 0)
    assert predicted.spans[1] == []
    for text, spans in zip(["Ann left Oslo", "", "Bob met Eve"], predicted.spans, strict=True):
        for span in spans:
            assert 0 <= span["start"] < span["end"] <= len(text)
            assert 0 <= span["score"] <= 1 and span["label"] in ("PER", "LOC")


def test_the_artifact_loads_back(tmp_path):
    from labelloop.models.artifacts import load_model, save_model

    model = _model()
    saved = save_model(model, tmp_path / "model.skops")
    loaded = load_model(saved.path, project_dir=tmp_path, sha256=saved.sha256)
    assert isinstance(loaded, EntityModel)
    assert loaded.predict(TEXTS).spans == model.predict(TEXTS).spans


def test_a_method_outside_the_sequence_scores_is_refused():
    from labelloop.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        _model().predict(TEXTS, method="margin")
    assert raised.value.field == "method"


POOL = [f"{name} flew to {place} today" for name in ("Ann", "Bob", "Zed", "Eve")
        for place in ("Oslo", "Rome", "Lima")]  # fmt: skip


def test_word_clusters_from_texts_are_features_and_travel_with_the_artifact(tmp_path):
    from labelloop.models.artifacts import load_model, save_model

    model = EntityModel(["PER", "LOC"], max_iterations=30)
    model.fit_representations(TEXTS + POOL, sizes=(2, 4), dimensions=4, random_state=0)
    model.fit(TEXTS, _spans(SPANS))
    # "Zed" is in no labelled text, yet it has a cluster the CRF was trained on.
    assert model.word_clusters.features("Zed")
    assert model.tagger_.clusters_ is model.word_clusters
    assert model.params["word_clusters"]["words"] == len(model.word_clusters.clusters_)
    assert model.params["word_clusters"]["sentences"] == len(TEXTS + POOL)

    saved = save_model(model, tmp_path / "model.skops")
    loaded = load_model(saved.path, project_dir=tmp_path, sha256=saved.sha256)
    assert loaded.word_clusters.clusters_ == model.word_clusters.clusters_
    assert loaded.word_clusters.capitals_ == model.word_clusters.capitals_
    assert loaded.tagger_.clusters_.clusters_ == model.word_clusters.clusters_
    assert loaded.predict(POOL).spans == model.predict(POOL).spans
    again = EntityModel(["PER", "LOC"]).fit_representations(
        TEXTS + POOL, sizes=(2, 4), dimensions=4, random_state=0
    )
    assert again.word_clusters.clusters_ == model.word_clusters.clusters_


def test_word_clusters_refuse_texts_too_few_to_cluster_and_unfitted_clusters():
    from labelloop.exceptions import ValidationError
    from labelloop.models.word_clusters import WordClusters

    model = EntityModel(["PER"])
    with pytest.raises(ValidationError) as raised:
        model.fit_representations(["one two", "three"])
    assert raised.value.field == "texts" and model.word_clusters is None
    with pytest.raises(ValidationError, match="texts must be a list"):
        model.fit_representations("Ann met Bob")
    with pytest.raises(ValidationError) as raised:
        EntityModel(["PER"], word_clusters=WordClusters())
    assert raised.value.field == "word_clusters"
