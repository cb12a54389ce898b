"""WeCom (企业微信): syncing the company's customers and tags, the group-message tasks the
WeChat channel creates, and reading their results back. The one writer of the WeCom
tables (campaigns.models.wecom).

- `wecom_sync` (beat every 15 minutes; `manage.py wecom_sync`): the customer tags
  (`get_corp_tag_list`), then each member's customers (`batch/get_by_user`, a page of 100
  at a time with WeCom's cursor, each page committed with the cursor, so a run stopped
  by WeCom's limit of calls (45009, 45033) or by anything else goes on where it stood).
  A customer is linked to the player whose mobile the member noted (remark_mobiles) when
  exactly one player has it; staff link the rest by hand (`wecom_contact_link`). The
  serving member is the player's manager when they have the customer, else the first
  member seen. A full pass of a member's customers unlinks those no longer theirs.
- `wecom_task_record`: the WeChat backend created one member's task (`add_msg_template`).
- `wecom_results_read` (beat every 10 minutes): each waiting task's results per customer
  (`get_groupmsg_send_result`, 1,000 a page with a cursor); each customer's result is
  recorded on their message and in the contact log (`message_task_result_record`), and
  the task's counts updated. A task still unsent after CRM_WECOM_TASK_DAYS days expires.
- `wecom_tasks_rediscover` (first thing in each `wecom_results_read`): a task whose
  add_msg_template answer was lost (WeCom did not answer in time: its messages failed as
  "may exist") is looked for in the member's list of group messages the company made
  around the call (`get_groupmsg_list_v2`): the one with the same text that is not ours
  yet. Found, its messages wait on it as if WeCom had answered, and are read back.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.channels import Channel
from players.models import Player

from ..channels import SendResult
from ..models import (
    Message,
    MessageReason,
    MessageStatus,
    WecomContact,
    WecomMember,
    WecomSyncCursor,
    WecomTag,
    WecomTask,
    WecomTaskStatus,
)
from ..wecom_client import RATE_LIMITED, wecom_client, wecom_error_code
from .messaging import message_task_result_record, messages_task_found

logger = logging.getLogger("campaigns.wecom")

CONTACTS_PAGE = 100  # batch/get_by_user's largest page
RESULTS_PAGE = 1000  # get_groupmsg_send_result's largest page
TASK_LIST_PAGE = 100  # get_groupmsg_list_v2's largest page
# Where a lost task is looked for: made by the company (filter_type 0), from a little
# before the call (clocks differ) to an hour after it (a delivery run claims its
# messages first and calls WeCom for each member's batch after).
LOST_TASK_BEFORE, LOST_TASK_AFTER = timedelta(minutes=5), timedelta(hours=1)

# get_groupmsg_send_result's status of a customer: 0 not sent yet, 1 sent, 2 not the
# member's contact (any more), 3 over the customer's limit of group messages.
SEND_WAITING, SEND_SENT, SEND_NOT_FRIEND, SEND_OVER_LIMIT = 0, 1, 2, 3


def _stamp(value) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


# --- Members and links --------------------------------------------------------------


@transaction.atomic
def wecom_member_set(*, user, userid: str) -> WecomMember | None:
    """A staff member's WeCom userid (blank: none)."""
    userid = (userid or "").strip()
    if not userid:
        WecomMember.objects.filter(user=user).delete()
        return None
    if WecomMember.objects.filter(userid=userid).exclude(user=user).exists():
        raise ValidationError({"userid": _("Another staff member has this WeCom userid.")})
    member, _created = WecomMember.objects.update_or_create(user=user, defaults={"userid": userid[:64]})
    return member


@transaction.atomic
def wecom_contact_link(*, contact: WecomContact, player: Player | None) -> WecomContact:
    """Link a WeCom customer to a player (None: unlink); a player has one WeCom customer."""
    if player is not None and WecomContact.objects.filter(player=player).exclude(pk=contact.pk).exists():
        raise ValidationError({"player": _("This player is already linked to another WeCom customer.")})
    contact.player = player
    contact.save(update_fields=["player"])
    return contact


# --- Sync ------------------------------------------------------------------------


class RateLimited(Exception):
    pass


def _mainland(mobile: str) -> str:
    try:
        number = phonenumbers.parse(str(mobile), "CN")
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number.national_number else ""


def wecom_sync(*, now: datetime | None = None, client=None, max_pages: int | None = None) -> dict:
    """Tags, then every member's customers, from where the last run stopped. Returns counts:
    tags, pages, contacts, linked, unlinked (no longer the member's), errors (members WeCom
    does not know), rate_limited (1 when WeCom's limit stopped the run: the next goes on)."""
    now = now or timezone.now()
    client = client or wecom_client()
    counts = Counter({"tags": 0, "pages": 0, "contacts": 0, "linked": 0, "unlinked": 0, "errors": 0, "rate_limited": 0})
    try:
        counts["tags"] = _tags_sync(client)
        for member in WecomMember.objects.select_related("user").order_by("pk"):
            if max_pages is not None and counts["pages"] >= max_pages:
                break
            _member_sync(client, member, now=now, counts=counts, max_pages=max_pages)
    except RateLimited:
        counts["rate_limited"] = 1
        logger.warning("WeCom sync stopped by WeCom's limit of calls; the next run goes on: %s", dict(counts))
    return dict(counts)


def _call(func, *args, **kwargs):
    from wechatpy.exceptions import WeChatClientException

    try:
        return func(*args, **kwargs)
    except WeChatClientException as exc:
        if wecom_error_code(exc) in RATE_LIMITED:
            raise RateLimited(str(exc)) from exc
        raise


@transaction.atomic
def _tags_sync(client) -> int:
    answer = _call(client.external_contact.get_corp_tag_list)
    seen = set()
    for group in answer.get("tag_group") or []:
        for tag in group.get("tag") or []:
            tag_id = str(tag.get("id") or "")[:64]
            if not tag_id:
                continue
            seen.add(tag_id)
            WecomTag.objects.update_or_create(
                tag_id=tag_id,
                defaults={
                    "name": str(tag.get("name") or "")[:100],
                    "group_name": str(group.get("group_name") or "")[:100],
                    "deleted": bool(tag.get("deleted") or group.get("deleted")),
                },
            )
    WecomTag.objects.exclude(tag_id__in=seen).update(deleted=True)
    return len(seen)


def _member_sync(client, member: WecomMember, *, now: datetime, counts: Counter, max_pages: int | None) -> None:
    from wechatpy.exceptions import WeChatClientException

    state, _created = WecomSyncCursor.objects.get_or_create(member=member)
    if not state.cursor:
        state.pass_started_at = now
        state.save(update_fields=["pass_started_at"])
    while max_pages is None or counts["pages"] < max_pages:
        try:
            page = _call(client.external_contact.batch_get_by_user, member.userid, state.cursor, CONTACTS_PAGE)
        except WeChatClientException as exc:
            # A member WeCom does not know (60111, 40003) or may not serve customers: say so,
            # go on with the others.
            WecomMember.objects.filter(pk=member.pk).update(last_error=f"{wecom_error_code(exc)} {exc.errmsg}"[:300])
            counts["errors"] += 1
            logger.warning("WeCom sync: member %s: %s", member.userid, exc)
            return
        counts["pages"] += 1
        _page_record(member, page, state=state, now=now, counts=counts)
        if not state.cursor:
            return


@transaction.atomic
def _page_record(member: WecomMember, page: dict, *, state: WecomSyncCursor, now: datetime, counts: Counter) -> None:
    """One page of a member's customers and the cursor after it, in one transaction."""
    items = page.get("external_contact_list") or []
    tag_ids = {t for item in items for t in (item.get("follow_info") or {}).get("tag_id") or []}
    tags = {tag.tag_id: tag for tag in WecomTag.objects.filter(tag_id__in=tag_ids)}
    for item in items:
        external = item.get("external_contact") or {}
        follow = item.get("follow_info") or {}
        external_userid = str(external.get("external_userid") or "")[:64]
        if not external_userid:
            continue
        contact = (
            WecomContact.objects.select_related("player", "member").filter(external_userid=external_userid).first()
        )
        if contact is None:
            contact = WecomContact(external_userid=external_userid)
        erased = contact.player is not None and contact.player.erased_at is not None
        # An erased player's WeChat name and remark are not stored again (PIPL Art. 47).
        contact.name = "" if erased else str(external.get("name") or "")[:100]
        contact.synced_at = now
        if contact.member_id is None or contact.member_id == member.pk or _is_manager(member, contact.player):
            contact.member = member
            contact.remark = "" if erased else str(follow.get("remark") or "")[:100]
            contact.added_at = _stamp(follow.get("createtime"))
        if contact.player_id is None:
            contact.player = _player_by_mobiles(follow.get("remark_mobiles") or [])
            if contact.player is not None:
                counts["linked"] += 1
                if _is_manager(member, contact.player):
                    contact.member = member
        contact.save()
        if contact.member_id == member.pk:
            contact.tags.set([tags[t] for t in follow.get("tag_id") or [] if t in tags])
        counts["contacts"] += 1
    state.cursor = str(page.get("next_cursor") or "")[:200]
    fields = ["cursor"]
    if not state.cursor:
        # A full pass: the member's customers not seen since it began are no longer theirs.
        if state.pass_started_at:
            counts["unlinked"] += WecomContact.objects.filter(
                member=member, synced_at__lt=state.pass_started_at
            ).update(member=None)
        state.finished_at = now
        fields.append("finished_at")
    state.save(update_fields=fields)
    if member.last_error:
        WecomMember.objects.filter(pk=member.pk).update(last_error="")


def _is_manager(member: WecomMember, player) -> bool:
    return player is not None and player.manager_id == member.user_id


def _player_by_mobiles(mobiles) -> Player | None:
    numbers = {n for n in (_mainland(m) for m in mobiles[:10]) if n}
    if not numbers:
        return None
    found = list(Player.objects.filter(phone__in=numbers, wecom__isnull=True).values_list("pk", flat=True)[:2])
    return Player.objects.get(pk=found[0]) if len(found) == 1 else None


# --- Tasks and their results --------------------------------------------------------


def wecom_task_record(*, msgid: str, member: WecomMember, messages: list, customers: int, refused: int) -> WecomTask:
    """The task WeCom created for `member` (add_msg_template's msgid), for `messages`."""
    first = messages[0] if messages else None
    task, _created = WecomTask.objects.get_or_create(
        msgid=msgid[:64],
        defaults={
            "member": member,
            "campaign_id": getattr(first, "campaign_id", None),
            "source": getattr(first, "source", "")[:64] if first else "",
            "text": first.body if first else "",
            "created_at": getattr(first, "sent_at", None) or timezone.now(),  # the delivery run's moment
            "customers": customers,
            "refused": refused,
        },
    )
    return task


def _task_days() -> int:
    return getattr(settings, "CRM_WECOM_TASK_DAYS", 3)


def wecom_results_read(*, now: datetime | None = None, client=None) -> dict:
    """Look for lost tasks (`wecom_tasks_rediscover`), then read back each waiting task's
    results; counts by what was recorded: found (messages matched back to a lost task),
    sent, failed, waiting, expired (tasks), rate_limited."""
    now = now or timezone.now()
    counts = Counter({"found": 0, "sent": 0, "failed": 0, "waiting": 0, "expired": 0, "rate_limited": 0})
    if _lost_messages(now=now).exists():
        client = client or wecom_client()
        try:
            counts["found"] = wecom_tasks_rediscover(now=now, client=client)
        except RateLimited:
            counts["rate_limited"] = 1
            return dict(counts)
    tasks = WecomTask.objects.filter(status=WecomTaskStatus.WAITING).select_related("member", "member__user")
    if not tasks.exists():
        return dict(counts)
    client = client or wecom_client()
    for task in tasks.order_by("created_at", "pk"):
        try:
            statuses = _task_statuses(client, task)
        except RateLimited:
            counts["rate_limited"] = 1
            break
        except Exception as exc:  # one task's error must not stop the others
            logger.warning("WeCom results of task %s not read: %s", task.msgid, exc)
            continue
        expired = task.created_at < now - timedelta(days=_task_days())
        counts.update(_task_results_record(task, statuses, now=now, expired=expired))
    return dict(counts)


def _lost_messages(*, now: datetime):
    return Message.objects.filter(
        channel=Channel.WECHAT,
        status=MessageStatus.FAILED,
        status_reason=MessageReason.WECOM_UNCERTAIN,
        sent_at__gte=now - timedelta(days=_task_days()),
    ).exclude(provider_batch="")


def wecom_tasks_rediscover(*, now: datetime, client) -> int:
    """Match messages whose add_msg_template answer was lost back to the task WeCom made
    for them; how many messages now wait on a task. A batch of messages (one call: one
    member, one text, our handle `provider_batch`) is matched to the member's company-made
    group message (`get_groupmsg_list_v2`) with the same text, made around the call and
    not already ours, the nearest in time; one WeCom never made stays as it was (not made
    again automatically: nothing goes twice)."""
    from crm.names import staff_name

    batches: dict[str, list[Message]] = {}
    for message in _lost_messages(now=now).order_by("provider_batch", "pk"):
        batches.setdefault(message.provider_batch, []).append(message)
    found = 0
    for messages in batches.values():
        first = messages[0]
        contact = (
            WecomContact.objects.select_related("member", "member__user").filter(player_id=first.player_id).first()
        )
        member = contact.member if contact else None
        if member is None or first.sent_at is None:
            continue
        start, end = first.sent_at - LOST_TASK_BEFORE, first.sent_at + LOST_TASK_AFTER
        listed = [
            task
            for task in _member_tasks(client, member.userid, start=start, end=end)
            if (task.get("text") or {}).get("content") == first.body
        ]
        ours = set(WecomTask.objects.filter(msgid__in=[t["msgid"] for t in listed]).values_list("msgid", flat=True))
        candidates = [t for t in listed if t["msgid"] not in ours]
        if not candidates:
            continue
        task = min(candidates, key=lambda t: abs((_stamp(t.get("create_time")) or end) - first.sent_at))
        with transaction.atomic():
            wecom_task_record(msgid=task["msgid"], member=member, messages=messages, customers=len(messages), refused=0)
            found += messages_task_found(
                ids=[m.pk for m in messages],
                lost_reason=MessageReason.WECOM_UNCERTAIN,
                task_ref=task["msgid"],
                reason=MessageReason.WECOM_WAITING,
                params={"member": staff_name(member.user) or member.userid},
            )
        logger.info("WeCom task %s found again for %s messages", task["msgid"], len(messages))
    return found


def _member_tasks(client, userid: str, *, start: datetime, end: datetime) -> list[dict]:
    """The group messages to customers the company made as `userid` between start and end."""
    tasks, cursor = [], ""
    while True:
        page = _call(
            client.post,
            "externalcontact/get_groupmsg_list_v2",
            data={
                "chat_type": "single",
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
                "creator": userid,
                "filter_type": 0,  # made by the company (add_msg_template), not in the member's app
                "limit": TASK_LIST_PAGE,
                "cursor": cursor,
            },
        )
        tasks += [t for t in page.get("group_msg_list") or [] if t.get("msgid")]
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            return tasks


def _task_statuses(client, task: WecomTask) -> dict[str, tuple[int, datetime | None]]:
    statuses, cursor = {}, ""
    while True:
        page = _call(
            client.post,
            "externalcontact/get_groupmsg_send_result",
            data={"msgid": task.msgid, "userid": task.member.userid, "limit": RESULTS_PAGE, "cursor": cursor},
        )
        for row in page.get("send_list") or page.get("detail_list") or []:
            external_userid = str(row.get("external_userid") or "")
            if external_userid:
                statuses[external_userid] = (int(row.get("status") or 0), _stamp(row.get("send_time")))
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            return statuses


def _task_results_record(task: WecomTask, statuses: dict, *, now: datetime, expired: bool) -> Counter:
    from crm.names import staff_name

    counts = Counter()
    who = staff_name(task.member.user) or task.member.userid
    waiting = (
        Message.objects.filter(provider_ref=task.msgid, status=MessageStatus.SENDING)
        .select_related("player__wecom")
        .only("pk", "player__wecom__external_userid")
    )
    for message in waiting:
        contact = getattr(message.player, "wecom", None)
        status, sent_at = statuses.get(contact.external_userid if contact else "", (SEND_WAITING, None))
        if status == SEND_SENT:
            result = SendResult(message.pk, "sent")
        elif status == SEND_NOT_FRIEND:
            result = SendResult(message.pk, "failed", reason=MessageReason.WECOM_NOT_FRIEND, params={"member": who})
        elif status == SEND_OVER_LIMIT:
            result = SendResult(message.pk, "failed", reason=MessageReason.WECOM_OVER_LIMIT)
        elif expired:
            result = SendResult(message.pk, "failed", reason=MessageReason.WECOM_EXPIRED, params={"member": who})
        else:
            counts["waiting"] += 1
            continue
        result.error = result.error or f"WeCom task {task.msgid}: status {status}"
        outcome = message_task_result_record(
            message_id=message.pk, task_ref=task.msgid, result=result, at=sent_at or now, staff=task.member.user
        )
        if outcome != "skipped":
            counts[outcome] += 1
    by_status = Counter(status for status, _at in statuses.values())
    with transaction.atomic():
        task = WecomTask.objects.select_for_update().get(pk=task.pk)
        task.sent = by_status[SEND_SENT]
        task.not_friend = by_status[SEND_NOT_FRIEND]
        task.over_limit = by_status[SEND_OVER_LIMIT]
        task.read_at = now
        # Settled when every message is, and WeCom lists nobody as still to send (a task
        # read before its messages were recorded waits for them).
        if not counts["waiting"] and (expired or (statuses and not by_status[SEND_WAITING])):
            if expired and not (task.sent or task.not_friend or task.over_limit):
                task.status = WecomTaskStatus.EXPIRED  # the member never sent it
                counts["expired"] += 1
            else:
                task.status = WecomTaskStatus.DONE
        task.save(update_fields=["sent", "not_friend", "over_limit", "read_at", "status"])
    return counts
