"""Several annotators' boxes fused (`labelloop.boxes.fuse_boxes`): the pure rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.boxes import fuse_boxes, needed_annotators
from labelloop.exceptions import ValidationError

CAT = {"bbox": [0.0, 0.0, 40.0, 40.0], "label": "cat"}
DOG = {"bbox": [50.0, 50.0, 80.0, 90.0], "label": "dog"}


def moved(box, d):
    return {"bbox": [v + d for v in box["bbox"]], "label": box["label"]}


def test_agreeing_annotators_fuse_by_mean_or_median():
    votes = [("a", [CAT, DOG]), ("b", [moved(DOG, 1), moved(CAT, 1)]), ("c", [moved(CAT, 5), DOG])]
    mean = fuse_boxes(votes)
    assert mean.decided and mean.unanimous
    assert mean.boxes[0] == {"bbox": [2.0, 2.0, 42.0, 42.0], "label": "cat"}
    median = fuse_boxes(votes, method="median")
    assert median.boxes[0] == {"bbox": [1.0, 1.0, 41.0, 41.0], "label": "cat"}
    assert median.boxes[1] == DOG


def test_a_box_one_annotator_lacks_is_undecided_and_named():
    fusion = fuse_boxes([("a", [CAT, DOG]), ("b", [CAT])])
    assert fusion.boxes is None and not fusion.decided
    assert [(u.annotator, u.position, u.label, u.agreeing) for u in fusion.unmatched] == [
        ("a", 1, "dog", 1)
    ]


def test_a_majority_keeps_and_drops_boxes():
    votes = [("a", [CAT, DOG]), ("b", [CAT]), ("c", [CAT, moved(DOG, 2)]), ("d", [CAT])]
    # 4 annotators, 3 needed: the dog (2 of 4) is neither kept nor dropped
    assert not fuse_boxes(votes, needed=3).decided
    three = fuse_boxes(votes[:3], needed=2)
    assert three.boxes == [CAT, {"bbox": [51.0, 51.0, 81.0, 91.0], "label": "dog"}]
    assert not three.unanimous
    dropped = fuse_boxes([("a", [CAT, DOG]), ("b", [CAT]), ("c", [CAT])], needed=2)
    assert dropped.boxes == [CAT] and [u.annotator for u in dropped.dropped] == ["a"]


def test_labels_and_threshold_decide_what_matches():
    other_label = fuse_boxes([("a", [CAT]), ("b", [{**CAT, "label": "dog"}])])
    assert len(other_label.unmatched) == 2
    far = moved(CAT, 20)  # IoU 400 / 2800, about 0.14
    assert not fuse_boxes([("a", [CAT]), ("b", [far])]).decided
    assert fuse_boxes([("a", [CAT]), ("b", [far])], threshold=0.1).decided


def test_nobody_drawing_anything_is_an_empty_label():
    fusion = fuse_boxes([("a", []), ("b", [])])
    assert fusion.boxes == [] and fusion.unanimous


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "mode"}, "box_fuse"),
        ({"threshold": 0}, "box_consensus_iou"),
        ({"needed": 1}, "box_consensus_share"),
    ],
)
def test_bad_parameters_name_their_setting(kwargs, field):
    with pytest.raises(ValidationError) as raised:
        fuse_boxes([("a", [CAT]), ("b", [CAT])], **kwargs)
    assert raised.value.field == field


def test_a_bad_box_names_its_position():
    with pytest.raises(ValidationError) as raised:
        fuse_boxes([("a", [CAT]), ("b", [CAT, {"bbox": [5, 5, 1, 1], "label": "cat"}])])
    assert raised.value.field == "boxes.1.bbox"


def test_needed_annotators_is_a_strict_majority():
    assert [needed_annotators(n, 0.51) for n in (2, 3, 4, 5)] == [2, 2, 3, 3]
    with pytest.raises(ValidationError):
        needed_annotators(3, 0.5)


boxes = st.lists(
    st.builds(
        lambda x, y, w, h, label: {"bbox": [x, y, x + w, y + h], "label": label},
        st.integers(0, 200),
        st.integers(0, 200),
        st.integers(5, 60),
        st.integers(5, 60),
        st.sampled_from(["cat", "dog"]),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(drawn=boxes, n=st.integers(2, 4))
def test_identical_annotations_fuse_to_themselves(drawn, n):
    fusion = fuse_boxes([(f"a{i}", drawn) for i in range(n)])
    # boxes of one annotator that overlap each other stay separate groups
    assert fusion.decided and fusion.unanimous
    assert sorted(map(str, fusion.boxes)) == sorted(
        str({"bbox": [float(v) for v in b["bbox"]], "label": b["label"]}) for b in drawn
    )


@settings(max_examples=60, deadline=None)
@given(drawn=boxes, extra=boxes)
def test_a_decided_fusion_keeps_only_boxes_enough_annotators_drew(drawn, extra):
    birds = [{**box, "label": "bird"} for box in extra]  # never matching a drawn box
    votes = [("a", drawn), ("b", drawn + birds), ("c", drawn)]
    fusion = fuse_boxes(votes, needed=2)
    assert fusion.decided
    assert len(fusion.boxes) == len(drawn)
    assert len(fusion.dropped) == len(birds)
