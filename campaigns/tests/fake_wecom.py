"""A local fake of WeCom's server API (qyapi.weixin.qq.com/cgi-bin/) on 127.0.0.1, for
wechatpy's client to talk to, written from WeCom's documentation:

- `gettoken?corpid&corpsecret` gives an access token (40013 for an unknown company, 40001
  for a wrong secret); `expire_token()` makes WeCom answer the next call with 42001 (the
  client fetches a new token and tries again).
- `externalcontact/get_corp_tag_list`: the company's tag groups and tags.
- `externalcontact/batch/get_by_user` (userid, cursor, limit up to 100): a member's
  customers, a page at a time, with `next_cursor`; 60111 for an unknown member.
- `externalcontact/add_msg_template` (chat_type single, sender, external_userid up to
  10,000, text): a task for the member, its `msgid`, and `fail_list` (customers who are
  not the sender's).
- `externalcontact/get_groupmsg_send_result` (msgid, userid, limit up to 1,000, cursor):
  each customer's status, 0 not sent, 1 sent, 2 not a contact, 3 over the customer's
  limit; `member_sends(msgid, ...)` plays the member confirming the task in WeCom.
- `externalcontact/get_groupmsg_list_v2` (chat_type, start_time and end_time at most a
  month apart, creator, filter_type 0 made by the company / 1 by the member / 2 both,
  limit up to 100, cursor): the group-message tasks made in that time, with their
  `msgid`, `creator`, `create_time`, `create_type` and text. A task is made at `clock`
  (unix seconds; the wall clock when None), so a test's pinned moments hold.

`per_minute` (None: no limit) plays WeCom's limit of calls: a call beyond that many in
the last 60 seconds is answered 45009, and counted in `refused`.

`fail_next[path] = (errcode, errmsg)` makes the next call to that path fail (e.g. 45009,
45033: WeCom's limits of calls). Every call with a valid token is in `calls` as (path,
params, body).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from .fake_server import LoopbackServer


class FakeWecom(LoopbackServer):
    def __init__(self, *, corp_id: str = "wwfakecorp0001", secret: str = "fake-contact-secret", users=()):
        self.corp_id, self.secret = corp_id, secret
        self.tokens: set[str] = set()
        self.token_fetches = 0
        self.expired_calls = 0  # calls refused for an expired (or unknown) token
        self.hang = 0.0  # seconds add_msg_template takes to answer (after making the task)
        self.calls: list[tuple[str, dict, dict]] = []
        self.fail_next: dict[str, tuple[int, str]] = {}
        # the company's members (userid -> [{external_contact, follow_info}]): others are unknown (60111)
        self.members: dict[str, list[dict]] = {userid: [] for userid in users}
        self.tag_groups: list[dict] = []
        self.tasks: dict[str, dict] = {}  # msgid -> {sender, external_userid, text, results, created, by_member}
        self.clock: int | None = None
        self.per_minute: int | None = None
        self.refused = 0
        self._recent: list[float] = []
        self._lock = threading.Lock()
        self._listen()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    # --- what the test sets up ---------------------------------------------------------

    def add_customer(self, userid: str, external_userid: str, *, name="", mobiles=(), tags=(), remark="", at=0):
        self.members.setdefault(userid, []).append(
            {
                "external_contact": {"external_userid": external_userid, "name": name, "type": 1},
                "follow_info": {
                    "userid": userid,
                    "remark": remark,
                    "createtime": at or 1700000000,
                    "tag_id": list(tags),
                    "remark_mobiles": list(mobiles),
                },
            }
        )

    def task_made(self, sender: str, external_userids: list[str], text: str, *, by_member: bool = False) -> str:
        """A task as add_msg_template makes it (for a test's given state), or as the member
        makes one in WeCom's own app (`by_member`); its msgid."""
        msgid = "msg" + uuid.uuid4().hex[:24]
        self.tasks[msgid] = {
            "sender": sender,
            "external_userid": list(external_userids),
            "text": text,
            "results": dict.fromkeys(external_userids, (0, 0)),
            "created": self._now(),
            "by_member": by_member,
        }
        return msgid

    def _now(self) -> int:
        return int(time.time()) if self.clock is None else int(self.clock)

    def expire_token(self):
        self.tokens.clear()

    def member_sends(self, msgid: str, *, sent=(), not_friend=(), over_limit=(), at: int = 1700003600):
        """The member confirmed the task in WeCom: these customers' results."""
        results = self.tasks[msgid]["results"]
        for status, who in ((1, sent), (2, not_friend), (3, over_limit)):
            for external_userid in who:
                results[external_userid] = (status, at if status == 1 else 0)

    # --- the API ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes) -> dict:
        parsed = urllib.parse.urlsplit(raw_path)
        path = parsed.path.removeprefix("/cgi-bin/")
        params = dict(urllib.parse.parse_qsl(parsed.query))
        data = json.loads(body or b"{}") if method == "POST" else {}
        with self._lock:
            if path == "gettoken":
                return self._token(params)
            if params.get("access_token") not in self.tokens:
                self.expired_calls += 1
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if self.per_minute is not None:
                moment = time.time()
                self._recent = [t for t in self._recent if t > moment - 60] + [moment]
                if len(self._recent) > self.per_minute:
                    self.refused += 1
                    return {"errcode": 45009, "errmsg": "api freq out of limit"}
            self.calls.append((path, params, data))
            if path in self.fail_next:
                code, message = self.fail_next.pop(path)
                return {"errcode": code, "errmsg": message}
            handler = {
                "externalcontact/get_corp_tag_list": self._tags,
                "externalcontact/batch/get_by_user": self._by_user,
                "externalcontact/add_msg_template": self._add_template,
                "externalcontact/get_groupmsg_send_result": self._send_result,
                "externalcontact/get_groupmsg_list_v2": self._task_list,
            }.get(path)
            if handler is None:
                return {"errcode": 404, "errmsg": f"no such API {path}"}
            return handler(data)

    def _token(self, params):
        if params.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if params.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        self.token_fetches += 1
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def _tags(self, data):
        return {"errcode": 0, "errmsg": "ok", "tag_group": self.tag_groups}

    def _by_user(self, data):
        userid = data.get("userid") or ""
        if userid not in self.members:
            return {"errcode": 60111, "errmsg": f"invalid userid {userid}"}
        limit = min(int(data.get("limit") or 50), 100)
        start = int(data.get("cursor") or 0)
        page = self.members[userid][start : start + limit]
        more = start + limit < len(self.members[userid])
        return {
            "errcode": 0,
            "errmsg": "ok",
            "external_contact_list": page,
            "next_cursor": str(start + limit) if more else "",
        }

    def _add_template(self, data):
        sender = data.get("sender") or ""
        if data.get("chat_type", "single") != "single":
            return {"errcode": 40058, "errmsg": "chat_type"}
        if sender not in self.members:
            return {"errcode": 60111, "errmsg": f"invalid userid {sender}"}
        wanted = data.get("external_userid") or []
        if not wanted or len(wanted) > 10000:
            return {"errcode": 40058, "errmsg": "external_userid: 1 to 10000"}
        if not (data.get("text") or {}).get("content"):
            return {"errcode": 40058, "errmsg": "text.content is empty"}
        mine = {c["external_contact"]["external_userid"] for c in self.members[sender]}
        fail = [e for e in wanted if e not in mine]
        msgid = "msg" + uuid.uuid4().hex[:24]
        self.tasks[msgid] = {
            "sender": sender,
            "external_userid": [e for e in wanted if e in mine],
            "text": data["text"]["content"],
            "results": {e: (0, 0) for e in wanted if e in mine},
            "created": self._now(),
            "by_member": False,
        }
        return {"errcode": 0, "errmsg": "ok", "fail_list": fail, "msgid": msgid}

    def _task_list(self, data):
        try:
            start, end = int(data["start_time"]), int(data["end_time"])
        except (KeyError, TypeError, ValueError):
            return {"errcode": 40058, "errmsg": "start_time and end_time are required"}
        if not 0 <= end - start <= 31 * 86400:
            return {"errcode": 40058, "errmsg": "the time range is at most one month"}
        if data.get("chat_type", "single") != "single":
            return {"errcode": 0, "errmsg": "ok", "group_msg_list": [], "next_cursor": ""}
        creator, kind = data.get("creator") or "", int(data.get("filter_type", 2))
        rows = [
            {
                "msgid": msgid,
                "creator": task["sender"],
                "create_time": str(task["created"]),
                "create_type": 1 if task["by_member"] else 0,
                "text": {"content": task["text"]},
            }
            for msgid, task in sorted(self.tasks.items(), key=lambda item: (item[1]["created"], item[0]))
            if start <= task["created"] <= end
            and (not creator or task["sender"] == creator)
            and (kind == 2 or kind == (1 if task["by_member"] else 0))
        ]
        limit = min(int(data.get("limit") or 50), 100)
        first = int(data.get("cursor") or 0)
        more = first + limit < len(rows)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "group_msg_list": rows[first : first + limit],
            "next_cursor": str(first + limit) if more else "",
        }

    def _send_result(self, data):
        task = self.tasks.get(data.get("msgid") or "")
        if task is None:
            return {"errcode": 41063, "errmsg": "msgid not found"}
        if data.get("userid") != task["sender"]:
            return {"errcode": 60111, "errmsg": "invalid userid"}
        limit = min(int(data.get("limit") or 500), 1000)
        start = int(data.get("cursor") or 0)
        rows = sorted(task["results"].items())
        page = rows[start : start + limit]
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": str(start + limit) if start + limit < len(rows) else "",
            "send_list": [
                {"external_userid": e, "userid": task["sender"], "status": status, "send_time": at}
                for e, (status, at) in page
            ],
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                data = json.dumps(fake.handle(self.command, self.path, body), ensure_ascii=False).encode()
                if fake.hang and "add_msg_template" in self.path:
                    time.sleep(fake.hang)  # took the task, answers too late
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        return Handler
