"""Players' writes, one module per area (the same names as in models/, selectors/, admin/):

- `profile`: the profile (`player_upsert` for the game's fields, `player_update` for staff);
- `ledger` (+ `ledger_engines`): the payment ledger's one writer and the projection of a
  player's derived state; `events` checks the API's raw events; `activity` logins;
- `payer_status`: payer status and churn (reasons: `players.churn_reasons`);
- `service_records`, `cases`, `feedback`: the contact log, cases and their SLA, feedback;
- `imports`, `exports`: player lists in and out; `birthdays`: the greetings' birthday index.

The most used writers are named here too, where callers have always found them.
"""

from .ledger import PaymentResult, payment_fingerprint, payment_record, players_totals_rebuild
from .profile import GAME_FIELDS, player_update, player_upsert
from .service_records import contact_log_create, contact_log_update

__all__ = [
    "GAME_FIELDS",
    "PaymentResult",
    "contact_log_create",
    "contact_log_update",
    "payment_fingerprint",
    "payment_record",
    "player_update",
    "player_upsert",
    "players_totals_rebuild",
]
