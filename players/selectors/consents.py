"""Whether a player may be reached on a channel for a purpose: the one rule, in Python
(`consent_block_reason`) and as its SQL twin for set-based targeting
(`consent_block_reason_sql`); a parity test holds them together. The message door
(`campaigns.services.messaging`) and the targeting of campaigns and greetings read it.

- marketing to a minor (by the date of birth, `minors.minor_sql`) never goes: "minor";
- the consent in force decides: granted goes; refused or withdrawn does not;
- without any record the default decides (README, "Consent"): channel:purpose pairs in
  `CRM_CONSENT_OPT_IN` need a grant ("no_consent"), the others go unless refused.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.utils import timezone

from ..models import Consent, ConsentPurpose, ConsentStatus, Player
from .minors import minor_cutoff

# Why a player may not be reached (campaigns.models.MessageReason has the same codes,
# with their words).
BLOCK_MINOR = "minor"
BLOCK_NO_CONSENT = "no_consent"
BLOCK_REFUSED = "consent_refused"
BLOCK_WITHDRAWN = "consent_withdrawn"
_BY_STATUS = {ConsentStatus.REFUSED.value: BLOCK_REFUSED, ConsentStatus.WITHDRAWN.value: BLOCK_WITHDRAWN}


def consent_opt_in(channel: str, purpose: str) -> bool:
    """Whether reaching a player on `channel` for `purpose` needs their explicit grant."""
    return f"{channel}:{purpose}" in set(getattr(settings, "CRM_CONSENT_OPT_IN", []))


def consent_block_reason(*, player: Player, channel: str, purpose: str, today: date | None = None) -> str:
    """Why `player` may not be reached on `channel` for `purpose` (a code above), or ""."""
    today = today or timezone.localdate()
    if purpose == ConsentPurpose.MARKETING and player.birthday is not None and player.birthday > minor_cutoff(today):
        return BLOCK_MINOR
    status = (
        Consent.objects.filter(player_id=player.pk, channel=channel, purpose=purpose)
        .values_list("status", flat=True)
        .first()
    )
    if status == ConsentStatus.GRANTED:
        return ""
    if status:
        return _BY_STATUS[status]
    return BLOCK_NO_CONSENT if consent_opt_in(channel, purpose) else ""


def consent_join_sql(*, player_id: str, alias: str, channel: str, purpose: str) -> tuple[str, list]:
    """The LEFT JOIN that brings the consent in force of the player `player_id` (an SQL
    column) on `channel` for `purpose` as `alias` (NULL without a record): a join, not a
    subquery per row, so that a launch of 200,000 reads the consents in one pass."""
    return (
        f"LEFT JOIN {Consent._meta.db_table} {alias} "
        f"ON {alias}.player_id = {player_id} AND {alias}.channel = %s AND {alias}.purpose = %s ",
        [channel, purpose],
    )


def consent_block_reason_sql(
    *, consent: str, birthday: str, channel: str, purpose: str, today: date | None = None
) -> tuple[str, list]:
    """`consent_block_reason` as an SQL expression and its params, over the consent row
    `consent` joined by `consent_join_sql` and the player's `birthday` column."""
    today = today or timezone.localdate()
    by_consent = f"COALESCE(CASE {consent}.status WHEN %s THEN '' WHEN %s THEN %s WHEN %s THEN %s END, %s)"
    params = [
        ConsentStatus.GRANTED,
        ConsentStatus.REFUSED,
        BLOCK_REFUSED,
        ConsentStatus.WITHDRAWN,
        BLOCK_WITHDRAWN,
        BLOCK_NO_CONSENT if consent_opt_in(channel, purpose) else "",
    ]
    if purpose != ConsentPurpose.MARKETING:
        return by_consent, params
    sql = f"CASE WHEN {birthday} > %s THEN %s ELSE {by_consent} END"
    return sql, [minor_cutoff(today), BLOCK_MINOR, *params]


def player_consents(player: Player) -> list[Consent]:
    """The player's consents in force, by channel and purpose."""
    return list(Consent.objects.filter(player=player).select_related("recorded_by").order_by("channel", "purpose"))


def consent_overview(player: Player) -> list[dict]:
    """Per consent channel and purpose, what is in force for `player`: the record, or the
    default without one ("allowed unless refused" / "needs a grant"), and whether it goes."""
    from crm.channels import consent_channel_choices

    in_force = {(c.channel, c.purpose): c for c in player_consents(player)}
    rows = []
    for channel, channel_label in consent_channel_choices():
        for purpose, purpose_label in ConsentPurpose.choices:
            consent = in_force.get((channel, purpose))
            rows.append(
                {
                    "channel": channel,
                    "channel_label": channel_label,
                    "purpose": purpose,
                    "purpose_label": purpose_label,
                    "consent": consent,
                    "opt_in": consent_opt_in(channel, purpose),
                    "live": consent.status == ConsentStatus.GRANTED
                    if consent
                    else not consent_opt_in(channel, purpose),
                }
            )
    return rows
