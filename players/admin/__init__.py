"""Players' admin, one module per area (the same names as in models/, services/, selectors/):
the player list and page (`profile`), payer status and churn (`payer_status`), contacts,
cases and feedback (`service_records`), the script library (`scripts`), imports and exports (`imports`), a player's data on
request and erasure (`privacy`). `scoping` is what every admin over player data shares (vip's and campaigns' too)."""

from . import (  # noqa: F401  (registers their admins)
    consents,
    duplicates,
    minors,
    payer_status,
    persons,
    privacy,
    profile,
    scripts,
    servers,
    service_records,
    surveys,
)
