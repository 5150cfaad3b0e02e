"""The built-in CRF entity model on python-crfsuite."""

from __future__ import annotations

import copy
import doctest
import pickle
import subprocess
import sys

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.models import crf
from labelloop.models.crf import SEQUENCE_SCORES, CrfTagger, token_features
from labelloop.ner import spans_to_tags, tags_to_spans, tokenize

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin"]
CITIES = ["Paris", "Oslo", "Lima", "New York"]


def _corpus(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    tokens, tags = [], []
    for _ in range(n):
        name, city = rng.choice(NAMES), rng.choice(CITIES)
        text = f"{name} flew to {city} today"
        words = tokenize(text)
        spans = [(0, len(name), "PER"), (text.index(city), text.index(city) + len(city), "LOC")]
        tokens.append([t.text for t in words])
        tags.append(spans_to_tags(spans, words))
    return tokens, tags


@pytest.fixture(scope="module")
def tagger() -> CrfTagger:
    tokens, tags = _corpus(60)
    return CrfTagger(max_iterations=50).fit(tokens, tags)


def test_learns_the_entities_of_a_simple_corpus(tagger: CrfTagger) -> None:
    assert tagger.predict([["Carol", "flew", "to", "Oslo", "today"]]) == [
        ["B-PER", "O", "O", "B-LOC", "O"]
    ]
    assert {"O", "B-PER", "B-LOC", "I-LOC"} <= set(tagger.labels_)


def test_marginals_rows_are_distributions_and_match_lengths(tagger: CrfTagger) -> None:
    sentences = [["Bob", "flew"], ["to", "Lima", "today", "x"]]
    prediction = tagger.predict_marginals(sentences)
    assert prediction.lengths.tolist() == [2, 4]
    assert prediction.marginals.shape == (6, len(prediction.labels))
    np.testing.assert_allclose(prediction.marginals.sum(axis=1), 1.0)
    assert (prediction.log_proba <= 0).all()
    # The best tag of each token is never less likely than the sequence it belongs to.
    best = [prediction.labels.index(tag) for tags in prediction.tags for tag in tags]
    per_token = prediction.marginals[np.arange(6), best]
    assert per_token[:2].min() >= np.exp(prediction.log_proba[0]) - 1e-9


def test_unfamiliar_sentences_score_higher_on_every_method(tagger: CrfTagger) -> None:
    familiar = ["Alice", "flew", "to", "Paris", "today"]
    strange = ["Zork", "quibbled", "near", "Qux", "Blorp"]
    for method in SEQUENCE_SCORES:
        scores = tagger.informativeness([familiar, strange], method=method)
        assert scores.shape == (2,)
        assert scores[1] > scores[0], method


def test_predict_spans_gives_offsets_and_scores(tagger: CrfTagger) -> None:
    text = "Dave flew to New York today"
    [spans] = tagger.predict_spans([tokenize(text)])
    assert [(text[s["start"] : s["end"]], s["label"]) for s in spans] == [
        ("Dave", "PER"),
        ("New York", "LOC"),
    ]
    assert all(0 < s["score"] <= 1 for s in spans)
    with pytest.raises(ValidationError, match="Token objects"):
        tagger.predict_spans([["Dave"]])


def test_bioes_scheme_round_trips_through_the_model() -> None:
    tokens, bio = _corpus(40, seed=1)
    bioes = []
    for words, tags in zip(tokens, bio, strict=True):
        toks = tokenize(" ".join(words))
        bioes.append(spans_to_tags(tags_to_spans(tags, toks), toks, scheme="BIOES"))
    model = CrfTagger(scheme="BIOES", max_iterations=50).fit(tokens, bioes)
    assert model.predict([["Erin", "flew", "to", "New", "York", "today"]]) == [
        ["S-PER", "O", "O", "B-LOC", "E-LOC", "O"]
    ]


def test_pickles_and_copies_without_a_file(tagger: CrfTagger) -> None:
    sentence = [["Erin", "flew", "to", "Paris"]]
    for clone in (pickle.loads(pickle.dumps(tagger)), copy.deepcopy(tagger)):
        assert clone.predict(sentence) == tagger.predict(sentence)


@pytest.mark.parametrize(
    ("tokens", "tags", "field"),
    [
        ([["a"]], [["O", "O"]], "tags.0"),
        ([["a", "b"]], [["I-X", "O"]], "tags.0"),
        ([[]], [[]], "tokens.0"),
        ([["a", ""]], [["O", "O"]], "tokens.0.1"),
        ("a b", [["O"]], "tokens"),
        ([["a"]], [["O"], ["O"]], "tags"),
    ],
)
def test_bad_training_data_is_named(tokens: object, tags: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CrfTagger().fit(tokens, tags)
    assert raised.value.field == field


def test_unfitted_tagger_and_unknown_method_are_refused(tagger: CrfTagger) -> None:
    with pytest.raises(ValidationError, match="not fitted"):
        CrfTagger().predict([["a"]])
    with pytest.raises(ValidationError) as raised:
        tagger.informativeness([["a"]], method="bald")
    assert raised.value.field == "method"


def test_features_see_the_neighbours() -> None:
    features = token_features(["@bob", "in", "NYC"])
    assert "BOS" in features[0] and "mark=@" in features[0]
    assert "-1w=@bob" in features[1] and "+1w=nyc" in features[1]
    assert "EOS" in features[2] and "upper" in features[2]


def test_importing_the_package_does_not_import_crfsuite() -> None:
    code = (
        "import sys, labelloop.models.crf, labelloop.ner, labelloop.strategies.sequence;"
        "print('pycrfsuite' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_extra_says_which_to_install() -> None:
    code = (
        "import sys; sys.modules['pycrfsuite'] = None\n"
        "from labelloop.models.crf import CrfTagger\n"
        "try:\n    CrfTagger().fit([['a']], [['O']])\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "labelloop[ner]" in out.stdout


def test_docstring_examples_run() -> None:
    result = doctest.testmod(crf)
    assert result.attempted > 0
    assert result.failed == 0
