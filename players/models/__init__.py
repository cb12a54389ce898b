"""Players' models, one module per area (the same names as in services/, selectors/, admin/):
profile, ledger, payer_status (churn), service_records (contacts, cases, feedback), imports, privacy (data requests),
consents, minors, servers (server merges), duplicates (possible duplicates), persons (VIP people)."""

from .consents import (  # noqa: F401
    Consent,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
)
from .duplicates import DUPLICATE_RULES, DuplicateCandidate, DuplicateRule, DuplicateStatus  # noqa: F401, E402
from .imports import (  # noqa: F401
    ExportFormat,
    ExportRecord,
    ImportJob,
    ImportKind,
    ImportStatus,
    InvalidRowPolicy,
)
from .ledger import (  # noqa: F401
    Payment,
    PaymentKind,
    PaymentSource,
    ProjectionPending,
)
from .minors import (  # noqa: F401
    MinorBand,
    MinorSpendFlag,
    MinorSpendRule,
)
from .payer_status import (  # noqa: F401
    RISK_BANDS,
    AtRiskPlayer,
    ChurnRule,
    ChurnSnapshot,
    PayerStatusChange,
    PayerStatusTrigger,
    PlayerChurn,
    ReasonFlagsMixin,
    RiskBand,
)
from .persons import PersonLinkRequest, PersonMerge, PersonMergeKind  # noqa: F401, E402
from .privacy import (  # noqa: F401
    ERASED_CLOSE_REASON,
    NOT_ERASED,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    DeliveryMethod,
    ErasedPlayerRefusedMixin,
    player_erased_error,
    player_erased_text,
    player_is_erased,
    player_not_erased,
    players_erased_locked,
)
from .profile import (  # noqa: F401
    ContactChannel,
    PayerStatus,
    Player,
    Tag,
)
from .scripts import SCRIPT_EXTRA_VARIABLES, SCRIPT_STEPS, CallScript, ScriptCategory  # noqa: F401, E402
from .servers import ServerMerge, ServerMergeSource  # noqa: F401, E402
from .service_records import (  # noqa: F401
    CASE_CHECKLISTS,
    CASE_TRANSITIONS,
    CLOCK_RUNNING,
    DEFAULT_SLA_HOURS,
    OPEN_STATUSES,
    Case,
    CaseCategory,
    CaseEvent,
    CaseEventType,
    CaseSeverity,
    CaseStatus,
    CompensationApprovalRule,
    CompensationProposal,
    ContactDirection,
    ContactLog,
    ContactLogChange,
    ContactOutcome,
    EscalationLevel,
    FeedbackKind,
    FeedbackReport,
    FeedbackStatus,
    FeedbackTopic,
    ProposalStatus,
    SlaPolicy,
)
from .surveys import SatisfactionSurvey, SurveyExpiry, SurveyKind, SurveyStatus, SurveyVia  # noqa: F401, E402
