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
