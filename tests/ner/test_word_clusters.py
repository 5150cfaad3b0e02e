"""Word clusters from unlabelled text, and the CRF features they give."""

from __future__ import annotations

import doctest
import pickle

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.models import word_clusters
from labelloop.models.crf import CrfTagger, token_features
from labelloop.models.word_clusters import WordClusters, normalise_word
from labelloop.ner import tokenize

# Lowercase on purpose: the only cue that a name is a name is the company it keeps.
SEEN_NAMES = ["alice", "bob", "carol"]
UNSEEN_NAMES = ["dave", "erin", "frank"]
FOODS = ["soup", "bread", "milk", "tea"]


def _unlabelled(seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(300):
        name, food = rng.choice(SEEN_NAMES + UNSEEN_NAMES), rng.choice(FOODS)
        texts.append(["yesterday", name, "said", "hello", "and", "ate", food, "slowly"])
    return texts


def _labelled(n: int, seed: int = 1) -> tuple[list[list[str]], list[list[str]]]:
    # Names and (seen) foods in the very same labelled context: only the word tells.
    rng = np.random.default_rng(seed)
    tokens, tags = [], []
    for i in range(n):
        word = rng.choice(SEEN_NAMES) if i % 2 else rng.choice(FOODS[:2])
        tokens.append(["yesterday", word, "said", "hello"])
        tags.append(["O", "B-PER" if i % 2 else "O", "O", "O"])
    return tokens, tags


def test_doctests_hold() -> None:
    assert doctest.testmod(word_clusters).failed == 0


def test_normalisation_shares_one_form_across_spellings() -> None:
    assert normalise_word("Paris") == normalise_word("PARIS") == "paris"
    assert normalise_word("2019") == normalise_word("1999") == "0000"
    assert normalise_word("@alice") == normalise_word("@bob") == "<user>"
    assert normalise_word("http://a.b") == normalise_word("www.c.d") == "<url>"
    assert normalise_word("@") == "@"


def test_words_in_identical_contexts_share_every_cluster() -> None:
    clusters = WordClusters(sizes=(2, 3, 4), dimensions=4).fit(_unlabelled())
    names = {clusters.clusters_[w] for w in SEEN_NAMES + UNSEEN_NAMES}
    foods = {clusters.clusters_[w] for w in FOODS}
    assert len(names) == 1 and len(foods) == 1
    features = clusters.features("Dave")
    assert [f.split("=")[0] for f in features] == ["c2", "c3", "c4", "upper_share"]
    assert features == clusters.features("alice")


def test_rare_and_unseen_words_get_no_cluster() -> None:
    texts = _unlabelled() + [["a", "zebra", "passed"]]
    clusters = WordClusters(sizes=(2,), dimensions=2, min_count=3).fit(texts)
    assert clusters.features("zebra") == []
    assert clusters.features("never-seen") == []
    assert clusters.features("alice") != []


def test_fitting_is_deterministic_for_a_seed() -> None:
    texts = [tokenize(" ".join(t)) for t in _unlabelled()]
    one = WordClusters(sizes=(2, 4), dimensions=3, random_state=5).fit(texts)
    two = WordClusters(sizes=(2, 4), dimensions=3, random_state=5).fit(texts)
    assert one.clusters_ == two.clusters_


def test_sizes_are_capped_by_the_distinct_words() -> None:
    clusters = WordClusters(sizes=(2, 500), dimensions=3).fit(_unlabelled())
    assert max(clusters.sizes_) <= len(clusters.clusters_)
    assert list(clusters.sizes_) == sorted(clusters.sizes_)


@pytest.mark.parametrize(
    ("options", "texts", "field"),
    [
        ({}, "one string", "texts"),
        ({}, [["ok"], 5], "texts.1"),
        ({}, [["a", 3]], "texts.0"),
        ({}, [["a", "a", "a"]], "texts"),
        ({"sizes": (1,)}, [["a", "b"]], "sizes"),
        ({"sizes": ()}, [["a", "b"]], "sizes"),
        ({"window": 0}, [["a", "b"]], "window"),
        ({"dimensions": -1}, [["a", "b"]], "dimensions"),
    ],
)
def test_bad_input_is_refused_naming_the_field(options, texts, field) -> None:
    with pytest.raises(ValidationError) as error:
        WordClusters(min_count=1, **options).fit(texts)
    assert error.value.field == field


def test_unfitted_clusters_say_so() -> None:
    with pytest.raises(ValidationError, match="not fitted"):
        WordClusters().features("word")


def test_features_without_clusters_are_unchanged() -> None:
    words = ["yesterday", "alice", "said"]
    plain = token_features(words)
    clusters = WordClusters(sizes=(2, 3, 4), dimensions=4).fit(_unlabelled())
    with_clusters = token_features(words, clusters=clusters)
    for row, richer in zip(plain, with_clusters, strict=True):
        assert set(row) <= set(richer)
    # The word's own clusters, and its neighbours' coarsest two, by position.
    own = clusters.features("alice")
    assert set(own) <= set(with_clusters[1])
    assert {"-1" + f for f in own[:2]} <= set(with_clusters[2])
    assert {"+1" + f for f in own[:2]} <= set(with_clusters[0])


def test_clusters_carry_a_label_to_words_never_labelled() -> None:
    tokens, tags = _labelled(40)
    # Neither "erin" nor "tea" was labelled (nor shares an affix with a word that was);
    # only the unlabelled text places them.
    sentences = [["yesterday", "erin", "said", "hello"], ["yesterday", "tea", "said", "hello"]]
    plain = CrfTagger(max_iterations=50).fit(tokens, tags)
    guesses = plain.predict(sentences)
    assert guesses[0] == guesses[1]  # nothing tells them apart without clusters
    tagger = CrfTagger(max_iterations=50).fit_representations(
        _unlabelled(), sizes=(2, 3), dimensions=4
    )
    assert isinstance(tagger.word_clusters, WordClusters)
    tagger.fit(tokens, tags)
    assert [s[1] for s in tagger.predict(sentences)] == ["B-PER", "O"]


def test_a_fitted_tagger_keeps_the_clusters_it_was_trained_with() -> None:
    tokens, tags = _labelled(40)
    sentence = [["yesterday", "erin", "said", "hello"]]
    clusters = WordClusters(sizes=(2, 3), dimensions=4).fit(_unlabelled())
    tagger = CrfTagger(max_iterations=50, word_clusters=clusters).fit(tokens, tags)
    before = tagger.predict_marginals(sentence)
    tagger.word_clusters = None  # takes effect at the next fit only
    after = tagger.predict_marginals(sentence)
    assert after.tags == before.tags
    np.testing.assert_allclose(after.marginals, before.marginals)
    copy = pickle.loads(pickle.dumps(tagger))
    assert copy.predict(sentence) == tagger.predict(sentence) == [before.tags[0]]
    assert copy.clusters_.clusters_ == clusters.clusters_


def test_upper_share_marks_words_capitalised_where_the_sentence_does_not_ask() -> None:
    texts = [["we", "met", "Alice", "and", "the", "dog"]] * 4 + [["The", "dog", "ran"]] * 4
    clusters = WordClusters(sizes=(2,), dimensions=2).fit(texts)
    assert "upper_share=3" in clusters.features("alice")
    # "The" is capitalised only where it starts a sentence, which does not count.
    assert "upper_share=0" in clusters.features("the")
    assert not any(f.startswith("upper") for f in clusters.features("we"))  # never inside
    plain = WordClusters(sizes=(2,), dimensions=2, capitals=False).fit(texts)
    assert not any(f.startswith("upper") for f in plain.features("alice"))
