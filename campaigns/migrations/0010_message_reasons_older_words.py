"""Message reasons stored in words before migration 0008, which 0008 did not map: the
weekly cap ("Weekly limit of 2 messages reached." / "已达每周 2 条消息的上限。"), a cap
followed by quiet hours, quiet hours in Chinese ("免打扰时段。"), a greeting skipped
("祝福已被工作人员跳过。") and a cancel by a user ("Cancelled by lina." / "由 lina 取消。").
They become `MessageReason` codes with their parameters; other text stays as it is."""

import re

from django.db import migrations

# (pattern of one reason, its code, the name of its parameter), English and Chinese.
REASON_PATTERNS = [
    (r"The player opted out of marketing messages\.", "opted_out", None),
    (r"玩家已退订营销消息。", "opted_out", None),
    (r"The player is flagged as a minor\.", "minor", None),
    (r"玩家被标记为未成年人。", "minor", None),
    (r"Weekly limit of (?P<cap>\d+) messages reached\.", "weekly_cap", "cap"),
    (r"已达每周 ?(?P<cap>\d+) ?条消息的上限。", "weekly_cap", "cap"),
    (r"Quiet hours\.", "quiet_hours", None),
    (r"免打扰时段。", "quiet_hours", None),
    (r"Greeting skipped by staff\.", "greeting_skipped", None),
    (r"祝福已被工作人员跳过。", "greeting_skipped", None),
    (r"Cancelled by (?P<user>.+?)\.", "cancelled_by", "user"),
    (r"由 ?(?P<user>.+?) ?取消。", "cancelled_by", "user"),
]
CODES = {code for _pattern, code, _param in REASON_PATTERNS} | {"channel_not_configured"}


def reason_codes(text: str) -> tuple[str, dict] | None:
    """(codes, parameters) of a reason stored in words, or None if any part is not one."""
    codes, params, rest = [], {}, text.strip()
    while rest:
        for pattern, code, param in REASON_PATTERNS:
            found = re.match(pattern, rest)
            if found:
                codes.append(code)
                if param:
                    value = found.group(param)
                    params[param] = int(value) if param == "cap" else value
                rest = rest[found.end() :].lstrip()
                break
        else:
            return None
    return (" ".join(codes), params) if codes else None


def older_words_to_codes(apps, schema_editor):
    Message = apps.get_model("campaigns", "Message")
    stored = Message.objects.exclude(status_reason="").order_by().values_list("status_reason", flat=True).distinct()
    for text in list(stored):
        if all(part in CODES for part in text.split()):
            continue
        found = reason_codes(text)
        if found:
            Message.objects.filter(status_reason=text).update(status_reason=found[0], status_params=found[1])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0009_task_title_codes"),
    ]

    operations = [
        migrations.RunPython(older_words_to_codes, migrations.RunPython.noop),
    ]
