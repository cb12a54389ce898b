"""Changelist columns that fit a laptop (1366 px with both sidebars open): short times and
dates with the full value in a tooltip, long text cut with an ellipsis and shown whole in a
tooltip, a player as nickname over account id. Each factory returns a callable for an
admin's `list_display`; the look is in crm/static/crm/admin.css (`.crm-when`, `.crm-trunc`,
`.crm-player`)."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from crm.formatting import date_short, when, when_short


def short_time(value):
    """A time as "12-06 14:43" (this year) with the full "2026-12-06 14:43" as its tooltip."""
    if value is None:
        return "-"
    return format_html('<span class="crm-when" title="{}">{}</span>', when(value), when_short(value))


def short_date(value):
    if value is None:
        return "-"
    return format_html('<span class="crm-when" title="{}">{}</span>', value.isoformat(), date_short(value))


def truncated(text, *, width: str = "") -> str:
    """Free text on one line, cut by the browser with an ellipsis where its column ends;
    the whole text is the tooltip. `width` (e.g. "8em") overrides the default cut."""
    text = " ".join(str(text or "").split())
    if not text:
        return "-"
    style = f"max-width:{width}" if width else ""
    return format_html('<span class="crm-trunc" style="{}" title="{}">{}</span>', style, text, text)


def truncated_lines(items, *, width: str = "") -> str:
    """A few short texts (a player's churn reasons), one a line, each cut with an ellipsis
    where its column ends; all of them whole in the tooltip."""
    items = [" ".join(str(item).split()) for item in items if item]
    if not items:
        return "-"
    style = f"max-width:{width}" if width else ""
    return format_html(
        '<span class="crm-lines" title="{}">{}</span>',
        "\n".join(items),
        format_html_join("", '<span class="crm-trunc" style="{}">{}</span>', ((style, item) for item in items)),
    )


def _attr(obj, path: str):
    """obj's value at a Django-style path ("player__manager"); the object itself for ""."""
    for part in filter(None, path.split("__")):
        obj = getattr(obj, part, None) if obj is not None else None
    return obj


def _short_column(path: str, description, shorten, ordering: str | None):
    def column(obj):
        return shorten(_attr(obj, path))

    column.short_description = description
    column.admin_order_field = ordering or path
    column.__name__ = f"{path}_short"
    return column


def time_column(path: str, description, *, ordering: str | None = None):
    return _short_column(path, description, short_time, ordering)


def date_column(path: str, description, *, ordering: str | None = None):
    return _short_column(path, description, short_date, ordering)


def text_column(path: str, description, *, width: str = "", ordering: str | None = None):
    def column(obj):
        return truncated(_attr(obj, path), width=width)

    column.short_description = description
    column.admin_order_field = ordering or path
    column.__name__ = f"{path}_short"
    return column


PLAYER = _("player")


def player_column(path: str = "player", description=PLAYER, *, link: bool = False):
    """The player as a VIP team knows them: the nickname, with the account id under it
    (narrower than "nickname (account id)" on one line); with `link`, a link to the player's
    page (not in a list's first column, which the admin already links to the row)."""

    def column(obj):
        player = _attr(obj, path)
        if player is None:
            return "-"
        nickname = player.nickname or "-"
        # An erased player's account id is a 63-character digest: nobody reads it, and it
        # would widen the column past a laptop's width.
        account = pgettext("player account", "erased") if getattr(player, "erased_at", None) else player.account_id
        if not link:
            return format_html('<span class="crm-player">{}<small>{}</small></span>', nickname, account)
        url = reverse("admin:players_player_change", args=[player.pk])
        return format_html('<a class="crm-player" href="{}">{}<small>{}</small></a>', url, nickname, account)

    column.short_description = description
    column.admin_order_field = f"{path}__account_id" if path else "account_id"
    column.__name__ = f"{path or 'player'}_card"
    return column
