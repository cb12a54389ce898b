"""Message templates and call scripts (话术) with {variables}: the one renderer of
campaign messages, greeting texts and call scripts, and of the script library
(players.models.scripts) that contacts, case replies and tasks insert from.

The syntax is Python's `str.format` restricted to what is safe in text typed by
staff: named placeholders only (`{nickname}`), no attribute or index access
(`{player.phone}`, `{tier[0]}`), no conversions (`{nickname!r}`), no nested fields
in a format spec. `{{` and `}}` are literal braces. A format spec is allowed
(`{total_spend:,.2f}`) because values are our own plain strings and numbers.

Templates are checked when they are saved (`template_validate`), so an unknown
variable is an error for the person typing it, not for the player at send time.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.names import staff_name

# name -> what it means (shown next to template fields in the admin).
TEMPLATE_VARIABLES: dict[str, str] = {
    "nickname": _("The player's nickname (their account id when they have none)"),
    "account_id": _("The player's account id"),
    "server": _("The player's game server"),
    "level": _("The player's game level"),
    "tier": _("The player's VIP tier, e.g. V3 (empty without a tier)"),
    "manager": _("The name of the player's VIP manager"),
    "days_since_login": _("Whole days since the player's last login (empty if never)"),
    "days_since_payment": _("Whole days since the player's last payment (empty if never)"),
    "total_spend": _("The player's total spend in the base currency, e.g. 1296.00"),
}

# Variables a text's use supplies besides the player's, by use: every call script has {me}
# (who calls); a higher app registers more (campaigns: a greeting call's {occasion},
# {occasion_date} and {gift}, `template_use_variables_register`).
SCRIPT_USE = "script"
USE_VARIABLES: dict[str, dict[str, str]] = {SCRIPT_USE: {"me": _("Your own name (who calls or writes)")}}


def template_use_variables_register(use: str, variables: Mapping) -> None:
    """Name the variables that a use of texts supplies (e.g. a greeting call's occasion)."""
    USE_VARIABLES.setdefault(use, {}).update(variables)


def _use_variable_names() -> set[str]:
    return {name for variables in USE_VARIABLES.values() for name in variables}


# Variables a higher app provides (apps depend one way): name -> value(player, now).
# `vip` provides {spend_to_keep_tier} at start-up (VipConfig.ready).
_PROVIDED: dict[str, Callable] = {}


def template_variable_provide(name: str, label, value: Callable) -> None:
    """Add a variable whose value a higher app computes for one player."""
    TEMPLATE_VARIABLES[name] = label
    _PROVIDED[name] = value


_formatter = string.Formatter()


class _LenientFormatter(string.Formatter):
    """At render time a format spec that does not suit a value (e.g. `{days_since_login:d}`
    for a player who never logged in) falls back to the plain value, never to an error."""

    def format_field(self, value, format_spec):
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_render_formatter = _LenientFormatter()


def template_variables(text: str) -> list[str]:
    """The variable names a template uses, in order of first use (after validation)."""
    return list(dict.fromkeys(_parse(text)))


def _parse(text: str) -> list[str]:
    """Parse `text`; raise ValidationError for bad syntax; return the field names used."""
    try:
        parsed = list(_formatter.parse(text or ""))
    except ValueError as exc:
        raise ValidationError(
            _("The template has a brace problem (%(problem)s). Write {{ and }} for literal braces."),
            code="template_syntax",
            params={"problem": str(exc)},
        )
    names = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ValidationError(
                _(
                    "Empty or numbered placeholders such as {} or {0} are not allowed; name a variable, e.g. {nickname}."
                ),
                code="template_positional",
            )
        if not field.isidentifier():
            raise ValidationError(
                _("'{%(field)s}' is not allowed: use a plain variable name, without dots or brackets."),
                code="template_access",
                params={"field": field},
            )
        if conversion:
            raise ValidationError(
                _("'{%(field)s!%(conversion)s}': conversions are not allowed."),
                code="template_conversion",
                params={"field": field, "conversion": conversion},
            )
        if spec and ("{" in spec or "}" in spec):
            raise ValidationError(
                _("'{%(field)s}': nested placeholders in a format are not allowed."),
                code="template_nested",
                params={"field": field},
            )
        names.append(field)
    return names


def template_validate(text: str, *, extra_variables: Iterable[str] = ()) -> list[str]:
    """Check a template; raise ValidationError naming bad syntax or unknown variables.

    `extra_variables` are names the caller will supply through `extra` when rendering
    (e.g. a greeting's `festival`). Returns the variables used.
    """
    names = template_variables(text)
    allowed = set(TEMPLATE_VARIABLES) | set(extra_variables)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValidationError(
            _("Unknown variable(s): %(unknown)s. Available: %(available)s."),
            code="template_unknown_variable",
            params={
                "unknown": ", ".join(f"{{{name}}}" for name in unknown),
                "available": ", ".join(f"{{{name}}}" for name in sorted(allowed)),
            },
        )
    # A format spec that does not suit the value type fails now, not at send time.
    try:
        _formatter.vformat(text or "", (), _SampleContext())
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            _("The template cannot be filled in: %(problem)s"), code="template_format", params={"problem": str(exc)}
        )
    return names


class _SampleContext(dict):
    """Plausible values of every type, to try format specs at validation time."""

    def __missing__(self, key):
        return _SAMPLES.get(key, "x")


_SAMPLES = {
    "level": 60,
    "days_since_login": 12,
    "days_since_payment": 30,
    "total_spend": Decimal("1296.00"),
    "spend_to_keep_tier": Decimal("500.00"),
}


def _days_since(moment: datetime | None, now: datetime) -> int | str:
    if moment is None:
        return ""
    local_now = timezone.localtime(now)
    return max((local_now.date() - timezone.localtime(moment).date()).days, 0)


def template_context(*, player, now: datetime | None = None) -> dict:
    """The values of TEMPLATE_VARIABLES for one player (uses player.tier and player.manager:
    select_related them when rendering many)."""
    now = now or timezone.now()
    manager = player.manager if player.manager_id else None
    return {
        "nickname": player.nickname or player.account_id,
        "account_id": player.account_id,
        "server": player.server,
        "level": player.level,
        "tier": player.tier.name if player.tier_id else "",
        "manager": staff_name(manager),
        "days_since_login": _days_since(player.last_login_at, now),
        "days_since_payment": _days_since(player.last_paid_at, now),
        "total_spend": player.total_spend,
    }


def template_context_for(text: str, *, player, now: datetime | None = None) -> dict:
    """template_context plus the provided variables the text uses (computed only then)."""
    now = now or timezone.now()
    context = template_context(player=player, now=now)
    for name in template_variables(text):
        if name in _PROVIDED:
            context[name] = _PROVIDED[name](player, now)
    return context


# A placeholder of a known variable left in a text typed or inserted by staff.
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}(?!\})")


def unresolved_variables(text: str) -> list[str]:
    """The {variables} still in a text that is about to be saved (a script inserted but
    not filled in, or a value this player has not got): such a text is refused."""
    known = set(TEMPLATE_VARIABLES) | _use_variable_names()
    return list(dict.fromkeys(name for name in _PLACEHOLDER.findall(text or "") if name in known))


def unresolved_errors(values: Mapping, fields: Iterable[str]) -> dict[str, list[str]]:
    """`unresolved_check` of each of `fields` in `values`: {field: [error]} for those refused."""
    errors = {}
    for name in fields:
        try:
            unresolved_check(values.get(name) or "", field=name)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    return errors


def unresolved_check(text: str, *, field: str) -> None:
    names = unresolved_variables(text)
    if names:
        raise ValidationError(
            {
                field: [
                    _("Fill in %(variables)s before saving: this player has no value for it.")
                    % {"variables": ", ".join(f"{{{name}}}" for name in names)}
                ]
            }
        )


def template_render_partial(text: str, *, player, extra: Mapping | None = None, now: datetime | None = None) -> str:
    """Fill in what this player has a value for; a variable without a value (no tier, no
    manager) stays as {variable} for staff to complete (`unresolved_check` refuses to
    save it)."""
    context = template_context_for(text, player=player, now=now)
    if extra:
        context.update(extra)
    values = {k: v for k, v in context.items() if v not in (None, "")}

    class _Keep(dict):
        def __missing__(self, key):
            return "{" + key + "}"

    _parse(text)
    return _render_formatter.vformat(text or "", (), _Keep(values))


def template_render(text: str, *, player, extra: Mapping | None = None, now: datetime | None = None) -> str:
    """Fill in a (validated) template for one player. `extra` adds or overrides variables.

    Raises ValidationError for a template that would not validate, so a bad template can
    never be sent half-filled.
    """
    context = template_context_for(text, player=player, now=now)
    if extra:
        context.update(extra)
    return template_render_context(text, context)


def template_render_context(text: str, context: Mapping) -> str:
    """Fill in a template from a ready context (for bulk rendering)."""
    _parse(text)
    missing = [name for name in template_variables(text) if name not in context]
    if missing:
        raise ValidationError(
            _("Unknown variable(s): %(unknown)s."),
            code="template_unknown_variable",
            params={"unknown": ", ".join(f"{{{name}}}" for name in missing)},
        )
    values = {key: ("" if value is None else value) for key, value in context.items()}
    return _render_formatter.vformat(text or "", (), values)
