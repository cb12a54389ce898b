"""`Message.last_error` held our English words and a UTC time ("2026-12-06 14:03:00 UTC,
attempt 3: Webhook answered HTTP 503."). It now holds only the provider's own code and words
(for a supervisor); what a person reads is the message's reason (`status_reason`,
`status_params`: in their language, the attempt's time in local time). Stored rows move the
same way: the time and the attempt go into the reason's parameters, our words become reason
codes, the provider's words stay. A message a backend failed before backends gave reasons
(no reason stored) gets the reason its words name."""

import re
from datetime import UTC, datetime

from django.db import migrations, models

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC, attempt (\d+): (.*)$", re.S)
OLD_FALLBACK = re.compile(r"^attempt (\d+): (.*)$", re.S)
FAILURES = {
    "provider_retry",
    "provider_refused",
    "provider_uncertain",
    "provider_undelivered",
    "no_phone",
    "no_email",
    "delivery_error",
    "channel_not_configured",
    "wecom_not_linked",
    "wecom_not_customer",
    "wecom_uncertain",
}
# Our words in front of a provider's, or instead of them: (pattern, what stays of it).
OUR_WORDS = [
    (re.compile(r"^The player has no mobile number\.$"), ""),
    (re.compile(r"^The player is not linked to a WeCom customer with a serving member\.$"), ""),
    (re.compile(r"^WeCom: not .*'s customer$", re.S), ""),
    (re.compile(r"^no answer recorded from the provider \(the sending worker stopped\)$"), ""),
    (re.compile(r"^no result for this message$"), ""),
    (re.compile(r"^(?:aliyun|tencent|wecom) (?:unreachable|did not answer): (.*)$", re.S), r"\1"),
    (re.compile(r"^receipt: (.*)$", re.S), r"\1"),
    (re.compile(r"^(?:aliyun|tencent|wecom) (\S+): (.*)$", re.S), r"\1 \2"),
]


def _single_backend_reason(text: str, status: str, channel: str) -> tuple[str, dict, str]:
    """(reason, parameters, provider's words) of a webhook's or email's error in our words."""
    retry_or_refused = "provider_refused" if status == "failed" else "provider_retry"
    if text == "The player has no email address.":
        return "no_email", {}, ""
    if text == "The player has no phone number.":
        return "no_phone", {}, ""
    if found := re.match(r"^Webhook answered HTTP (\d+)\.$", text):
        code = f"HTTP {found.group(1)}"
        return retry_or_refused, {"provider": "webhook", "code": code}, code
    if found := re.match(r"^Webhook unreachable: (.*)$", text, re.S):
        return retry_or_refused, {"provider": "webhook", "code": "unreachable"}, found.group(1)
    if found := re.match(r"^Email not sent: (.*)$", text, re.S):
        return retry_or_refused, {"provider": "email", "code": "", "detail": found.group(1)[:200]}, found.group(1)
    if found := re.match(r"^The webhook for channel (\S+) needs a url and a secret\.$", text):
        return "channel_not_configured", {"channel": found.group(1)}, ""
    return "delivery_error", {"channel": channel}, text


def message_error_rewritten(row: dict) -> dict | None:
    """The row's new last_error, status_reason and status_params, or None if unchanged."""
    text, reason, params = row["last_error"], row["status_reason"], dict(row["status_params"] or {})
    attempt = at = None
    if found := STAMP.match(text):
        stamp, attempt, text = found.groups()
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).isoformat()
    elif (found := OLD_FALLBACK.match(text)) and found.group(2).strip() in FAILURES:
        attempt, text = found.group(1), ""
    for pattern, kept in OUR_WORDS:
        if pattern.match(text):
            text = pattern.sub(kept, text)
            break
    if reason == "channel_not_configured":
        text = ""  # our words naming a setting: the reason says what to configure
    due_again = row["status"] == "queued" and row["attempts"] > 0
    if not reason and text:
        found, more, text = _single_backend_reason(text, row["status"], row["channel"])
        if row["status"] == "failed" or due_again:  # else nothing is wrong now: no reason to give
            reason = found
            params.update(more)
    if attempt and reason in FAILURES and row["status"] in ("failed", "queued") and "attempt" not in params:
        params["attempt"] = int(attempt)
        if at:
            params["at"] = at
    new = {"last_error": text.strip(), "status_reason": reason, "status_params": params}
    if all(new[k] == row[k] for k in new):
        return None
    return new


def forwards(apps, schema_editor):
    Message = apps.get_model("campaigns", "Message")
    fields = ["id", "status", "channel", "attempts", "last_error", "status_reason", "status_params"]
    batch = []
    for row in Message.objects.exclude(last_error="").order_by("pk").values(*fields).iterator(chunk_size=2000):
        new = message_error_rewritten(row)
        if new:
            batch.append(Message(pk=row["id"], **new))
        if len(batch) >= 1000:
            Message.objects.bulk_update(batch, ["last_error", "status_reason", "status_params"])
            batch = []
    if batch:
        Message.objects.bulk_update(batch, ["last_error", "status_reason", "status_params"])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0020_wecom"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="last_error",
            field=models.TextField(
                blank=True,
                help_text="The provider's own code and words on the last failed attempt, as it gave them.",
                verbose_name="provider's answer",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
