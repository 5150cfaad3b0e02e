"""Projects: create, list, show, change settings and guidelines; validate labels.

A project is one labelling job: its task type, label schema, strategy, settings and
guideline versions (with examples picked from the disagreements, and the agreement,
correction and rejection rates of the labels made under each). Every change is audited
in the transaction that makes it.

Settings that can never train are refused when set, naming the setting changed: a
``model`` the model layer cannot build or that gives no ``predict_proba``, and a
committee strategy (`labelloop.selection.COMMITTEE_STRATEGIES`) with a model that gives
no member probabilities (`labelloop.models.spec.gives_members`).
"""

from labelloop.engine.projects.catalog import (
    ProjectInfo,
    create_project,
    get_project_info,
    list_projects,
)
from labelloop.engine.projects.changes import update_settings
from labelloop.engine.projects.guideline_rates import GuidelineVersionRates, guideline_versions
from labelloop.engine.projects.guidelines import (
    MAX_EXAMPLES,
    GuidelineChanges,
    GuidelineExample,
    GuidelineInfo,
    GuidelineLine,
    add_guideline_examples,
    get_guidelines,
    guideline_changes,
    set_guidelines,
)

__all__ = [
    "MAX_EXAMPLES",
    "GuidelineExample",
    "GuidelineInfo",
    "GuidelineVersionRates",
    "add_guideline_examples",
    "GuidelineChanges",
    "GuidelineLine",
    "ProjectInfo",
    "create_project",
    "get_guidelines",
    "get_project_info",
    "guideline_versions",
    "guideline_changes",
    "list_projects",
    "set_guidelines",
    "update_settings",
]
