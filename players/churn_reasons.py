"""Churn reasons: the registry. Where to add a reason why a payer is at risk.

Each entry is the whole of a reason: its code, its label (English here, Simplified
Chinese in ``locale/churn``), its weight in the risk score, and two SQL expressions
over the evaluated player (the row ``ev`` of ``players.services.payer_status``'s evaluation):
whether it applies, and how strongly (0–1). Everything else is built from this list:

- the evaluation (``players.services.payer_status``): one ``reason_<code>`` flag per entry,
  ``at_risk`` when any applies, and the score
  ``round(Σ weight × strength over the reasons that apply)``;
- the stored flags: one ``reason_<code>`` column on ``PlayerChurn`` and on
  ``PayerStatusChange`` (``players.models.payer_status.ChurnReasonFlags``), the choices
  ``ChurnReason``, the ``reasons`` list of a row;
- the admin's reason filters, the worklist's and the history's "why" texts, the
  customer card and the timeline (``ChurnReason``'s labels);
- the ORM filter ``players.selectors.payer_status.churn_reason_q``.

Adding a reason:

1. one ``Reason(...)`` entry below (its SQL reads the figures the evaluation already
   has, listed in ``EV_COLUMNS``; a reason that needs a new figure or a new rule
   value also extends the evaluation or ``ChurnRule``);
2. ``manage.py makemigrations players``: the new ``reason_<code>`` column on the two
   tables (``players/tests/test_churn_reasons.py`` fails until it exists);
3. its Chinese label in ``locale/churn/zh_Hans/LC_MESSAGES/django.po``;
4. one test of when it applies (``players/tests/test_services_payer_status.py``).

The documented reasons (defaults in brackets, editable per tier in the admin):

- ``overdue``: days since the last purchase > max(``min_gap_days`` [7],
  ``gap_multiplier`` [2] × the player's own median gap between purchases). A player
  with a single purchase has no gap yet: the floor alone applies.
  Strength: min(1, days since last purchase / ``churn_after_days``). Weight 50.
- ``spend_drop``: net spend of the last ``spend_window_days`` [30] days is below
  ``spend_drop_ratio`` [0.5] × the net spend of the ``spend_window_days`` before.
  Strength: min(1, 1 − max(0, recent spend) / previous spend). Weight 30.
- ``no_login``: no login for more than ``no_login_days`` [7] days. A purchase counts
  as a sign of life too (nobody pays without logging in), so a game that sends
  payments but no logins does not flag every payer.
  Strength: min(1, days since last seen / ``churn_after_days``). Weight 20.

A reason applies only to a payer (net spend > 0); the evaluation adds that condition
and treats an unknown (NULL) condition as false.

This module imports nothing of the app, so models, services, selectors and admin
all read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from players.services.payer_status import Dialect

# The evaluated player's figures a reason's SQL may read, as ev.<name> (see
# players.services.payer_status: the rules are the player's tier's, else the global ones).
EV_COLUMNS = {
    "total_spend": "net spend (> 0 for a payer)",
    "since_paid": "days since the last purchase (fraction)",
    "since_seen": "days since the last login or purchase, whichever is later (fraction)",
    "median_gap": "the player's median gap between purchases in days (NULL: fewer than 2)",
    "spend_recent": "net spend of the last spend window",
    "spend_previous": "net spend of the window before it",
    "purchase_count": "purchases",
    "churn_days": "rule: churned after (days)",
    "gap_mult": "rule: overdue multiple of the median gap",
    "min_gap": "rule: overdue at least (days)",
    "window_days": "rule: spend window (days)",
    "drop_ratio": "rule: spend drop ratio",
    "no_login": "rule: no login for (days)",
}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: cheap as a cache key
class Reason:
    code: str
    label: Promise
    weight: int  # points of the 0-100 score at full strength
    applies: Callable[[Dialect], str]  # SQL condition over ev.*
    strength: Callable[[Dialect], str]  # SQL number in [0, 1] over ev.*, used where `applies` holds

    @property
    def column(self) -> str:
        """The flag's column in the evaluation and on PlayerChurn and PayerStatusChange."""
        return f"reason_{self.code}"


REASONS: tuple[Reason, ...] = (
    Reason(
        code="overdue",
        label=_("Payment overdue for their rhythm"),
        weight=50,
        applies=lambda d: f"ev.since_paid > {d.greatest('ev.min_gap', 'ev.gap_mult * COALESCE(ev.median_gap, 0)')}",
        strength=lambda d: d.least("1.0", "ev.since_paid / ev.churn_days"),
    ),
    Reason(
        code="spend_drop",
        label=_("Spend dropped"),
        weight=30,
        applies=lambda d: "ev.spend_previous > 0 AND ev.spend_recent < ev.drop_ratio * ev.spend_previous",
        strength=lambda d: (
            "CASE WHEN ev.spend_previous > 0 THEN"
            f" {d.least('1.0', '1.0 - 1.0 * ' + d.greatest('ev.spend_recent', '0') + ' / ev.spend_previous')}"
            " ELSE 0 END"
        ),
    ),
    Reason(
        code="no_login",
        label=_("No recent login"),
        weight=20,
        applies=lambda d: "ev.since_seen > ev.no_login",
        strength=lambda d: d.least("1.0", "ev.since_seen / ev.churn_days"),
    ),
)


def reasons() -> tuple[Reason, ...]:
    """The registered reasons, in the order reasons are listed and scored."""
    return REASONS


def reason_choices() -> list[tuple[str, Promise]]:
    return [(r.code, r.label) for r in REASONS]


def reason_label(code: str) -> Promise:
    for reason in REASONS:
        if reason.code == code:
            return reason.label
    raise ValueError(code)
