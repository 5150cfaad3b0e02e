"""Label quality: the suspect queue a round's label check fills, and reviewers' rulings.

Rounds flag likely wrong labels (`labelloop.engine.rounds.label_check`); this use case
lists them, most suspect first, with the reviewers' precision at k (`suspects`), and lets
a reviewer confirm and correct a label or clear it, through the final-label rule
(`resolve`).
"""

from labelloop.engine.quality.resolve import SUSPECT_VERDICTS, resolve_suspect
from labelloop.engine.quality.suspects import (
    PRECISION_AT,
    PrecisionAtK,
    SuspectInfo,
    SuspectList,
    SuspectSummary,
    list_suspects,
)

__all__ = [
    "PRECISION_AT",
    "SUSPECT_VERDICTS",
    "PrecisionAtK",
    "SuspectInfo",
    "SuspectList",
    "SuspectSummary",
    "list_suspects",
    "resolve_suspect",
]
