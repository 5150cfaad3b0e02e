"""Request and response bodies, one module per resource (``...Create`` in, ``...Public`` out).

Every request model forbids unknown fields and caps its sizes; the engine validates
meaning (labels against the project's schema, settings, verdicts) and names the field.
Where an engine result already has the fields, names and types the API answers, the
engine's dataclass is the response model (re-exported here with the module of its
resource), so the two cannot drift apart; a ``...Public`` model stands only where the
JSON differs from the engine's result.
"""

from labelloop.server.schemas.client_models import (
    LabelPagePublic,
    LabelRowPublic,
    PredictionCreate,
    PredictionsCreate,
    PushReport,
)
from labelloop.server.schemas.common import (
    MAX_ID,
    AnnotationId,
    ErrorPublic,
    HealthPublic,
    Id,
    ItemId,
    Name,
    RequestModel,
    ReviewTaskId,
    TaskId,
    TokenId,
    UserId,
    WebhookId,
)
from labelloop.server.schemas.labelling import (
    AnnotationCreate,
    AnnotationInfo,
    AnnotatorProgress,
    ItemGuess,
    ItemHistory,
    ItemPage,
    ReviewCreate,
    ReviewOutcome,
    ReviewTaskInfo,
    SkipCreate,
    SpanCreate,
    TaskInfo,
)
from labelloop.server.schemas.metrics import (
    AgreementPublic,
    AnnotatorAgreementPublic,
    PairAgreementPublic,
    ReviewCountsPublic,
)
from labelloop.server.schemas.projects import (
    GuidelinesPublic,
    GuidelinesUpdate,
    ItemsCreate,
    ProjectCreate,
    ProjectInfo,
)
from labelloop.server.schemas.rounds import JobInfo, RoundPublic, StatusPublic
from labelloop.server.schemas.users import (
    LoginCreate,
    MemberCreate,
    SessionPublic,
    TokenCreate,
    TokenCreatedPublic,
    TokenInfo,
    UserCreate,
    UserCreatedPublic,
    UserInfo,
)
from labelloop.server.schemas.webhooks import DeliveryInfo, WebhookCreate, WebhookInfo

__all__ = [
    "MAX_ID",
    "AgreementPublic",
    "AnnotationCreate",
    "SpanCreate",
    "AnnotationId",
    "AnnotationInfo",
    "AnnotatorAgreementPublic",
    "AnnotatorProgress",
    "DeliveryInfo",
    "ErrorPublic",
    "GuidelinesPublic",
    "GuidelinesUpdate",
    "HealthPublic",
    "Id",
    "ItemGuess",
    "ItemHistory",
    "ItemId",
    "ItemPage",
    "ItemsCreate",
    "JobInfo",
    "LabelPagePublic",
    "LabelRowPublic",
    "LoginCreate",
    "MemberCreate",
    "Name",
    "PairAgreementPublic",
    "PredictionCreate",
    "PredictionsCreate",
    "ProjectCreate",
    "ProjectInfo",
    "PushReport",
    "RequestModel",
    "ReviewCountsPublic",
    "ReviewCreate",
    "ReviewOutcome",
    "ReviewTaskId",
    "ReviewTaskInfo",
    "RoundPublic",
    "SessionPublic",
    "SkipCreate",
    "StatusPublic",
    "TaskId",
    "TaskInfo",
    "TokenCreate",
    "TokenCreatedPublic",
    "TokenId",
    "TokenInfo",
    "UserCreate",
    "UserCreatedPublic",
    "UserId",
    "UserInfo",
    "WebhookCreate",
    "WebhookId",
    "WebhookInfo",
]
