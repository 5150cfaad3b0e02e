"""A project where two annotators split on ironic texts and a reviewer settles them.

Twelve items: six ironic ("what a brilliant ironic sarcastic ..."), six plain ("a warm
moving film ..."). Annotator ``a`` says ``pos`` to all; ``b`` says ``neg`` to the ironic
ones and ``pos`` to the plain ones. The reviewer corrects the ironic ones to ``neg`` and
accepts the plain ones. Guideline version 1 is in force throughout.
"""

from __future__ import annotations

from _service_setup import add_items, make_project, make_user

from labelloop.engine import annotate, queue, review
from labelloop.engine.projects import set_guidelines
from labelloop.store.db import Database

IRONIC = [
    "oh what a brilliant ironic sarcastic sequel, truly",
    "sarcastic ironic praise: best two hours I ever wasted",
    "ironic applause for this sarcastic masterpiece of boredom",
    "brilliant, sarcastic and ironic: I loved falling asleep",
    "so ironic, such sarcastic genius, what a brilliant mess",
    "an ironic sarcastic triumph of nothing at all",
]
PLAIN = [
    "a warm moving film with honest acting",
    "warm and moving, the acting is honest and kind",
    "honest acting in a warm moving story",
    "moving film, warm heart, honest performances",
    "the film is warm, moving and honestly acted",
    "a moving and warm film, honest to the end",
]


def split_project(db: Database) -> tuple[int, list[int]]:
    """The project id and its item ids (ironic first, then plain)."""
    project = make_project(db, settings={"overlap": 2, "eval_share": 0, "review_policy": "all"})
    set_guidelines(db, actor="cli:test", project=project, text="Label the *sentiment*.")
    add_items(db, project, 12, overlap=2, texts=IRONIC + PLAIN)
    a, b = make_user(db, "a"), make_user(db, "b")
    for user in (a, b):
        while (task := queue.lease_next_task(db, project_id=project, user=user)) is not None:
            ironic = task.item.payload["text"] in IRONIC
            label = "neg" if ironic and user is b else "pos"
            annotate.submit_annotation(db, task_id=task.id, user=user, label=label)
    rev = make_user(db, "rev", role="reviewer")
    ids: dict[str, int] = {}
    while (leased := review.lease_next_review(db, project_id=project, user=rev)) is not None:
        ids[leased.item.payload["text"]] = leased.item.id
        if leased.item.payload["text"] in IRONIC:
            review.submit_review(
                db, review_task_id=leased.id, user=rev, verdict="correct", label="neg"
            )
        else:
            review.submit_review(db, review_task_id=leased.id, user=rev, verdict="accept")
    return project, [ids[text] for text in IRONIC + PLAIN]
