"""Label Studio: labelloop as a Label Studio ML backend, and the other way round.

- `matching`: which ``<Choices>`` control (``<Labels>`` for entity projects,
  ``<RectangleLabels>`` for box projects) of a Label Studio project's label config
  carries a labelloop project's labels, and which labelloop item a task is;
- `predicting`: one Label Studio prediction per task from a model version, its
  informativeness as the prediction's ``score``;
- `events`: the webhook events Label Studio sends an ML backend (annotations created,
  updated, deleted; training asked for), read into what labelloop records;
- `client`: Label Studio ML backends as labelloop client models (pull mode): the request
  they expect and their results as class probabilities.

The HTTP routes (`labelloop.server.routers.label_studio`) compose these with the use
cases that store labels and train models.
"""

from labelloop.engine.label_studio.client import (
    backend_request,
    results_to_probabilities,
    results_to_regions,
    setup_request,
)
from labelloop.engine.label_studio.events import (
    ITEM_FIELDS,
    TRAINING_EVENTS,
    AnnotationEvent,
    annotation_actor,
    read_event,
)
from labelloop.engine.label_studio.matching import (
    ID_PREFIX,
    REGION_KINDS,
    choose_any_control,
    choose_control,
    choose_region_control,
    project_label_config,
    task_external_id,
)
from labelloop.engine.label_studio.predicting import (
    UNTRAINED_VERSION,
    check_tasks,
    latest_model_version,
    model_version_name,
    predict_region_tasks,
    predict_tasks,
)

__all__ = [
    "ID_PREFIX",
    "REGION_KINDS",
    "ITEM_FIELDS",
    "TRAINING_EVENTS",
    "UNTRAINED_VERSION",
    "AnnotationEvent",
    "annotation_actor",
    "backend_request",
    "check_tasks",
    "choose_any_control",
    "choose_control",
    "choose_region_control",
    "latest_model_version",
    "model_version_name",
    "predict_region_tasks",
    "predict_tasks",
    "project_label_config",
    "read_event",
    "results_to_probabilities",
    "results_to_regions",
    "setup_request",
    "task_external_id",
]
