"""The API description in the OpenAPI schema (SPECTACULAR_SETTINGS["DESCRIPTION"]).
Plain text only: settings import it."""

DESCRIPTION = """
Game backends push payment and login events and read players and VIP tiers.

## Credentials

Staff create a client in the admin or with `python manage.py create_api_client --name "<name>" [--game "<game>"]`,
which prints `{"name": ..., "key": ..., "signing_secret": ...}` once.

Every request carries `Authorization: Bearer <key>`.
Every write (POST, PUT, PATCH, DELETE) also carries

    X-CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing_secret, "<t>.<raw request body>")>

The HMAC is computed over the exact bytes sent as the body, prefixed by the timestamp and a dot.
A request whose signature is missing, malformed or wrong, or whose `t` is more than 300 seconds
from the server's clock, is refused with 401 and nothing is stored.

### Worked example (Python)

```python
import hashlib, hmac, json, time
import requests

KEY = "crm_..."              # from create_api_client
SECRET = "3f1c..."           # the signing_secret

body = json.dumps({
    "event_id": "ord-20261122-000123", "type": "purchase", "account_id": "10086",
    "server": "s1", "amount": "648.00", "currency": "CNY",
    "occurred_at": "2026-11-22T10:00:00+08:00",
}).encode()
t = int(time.time())
v1 = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
response = requests.post(
    "https://crm.example.com/api/v1/payments/",
    data=body,  # send exactly the bytes that were signed
    headers={
        "Authorization": f"Bearer {KEY}",
        "X-CRM-Signature": f"t={t},v1={v1}",
        "Content-Type": "application/json",
    },
)
```

With `SECRET = "secret"`, `t = 1700000000` and the body `{"a":1}`, the signed message is
`1700000000.{"a":1}` and `v1` is
`49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686` (recompute it to check your code).

## Errors

Every error is `{"error": "<machine code>", "detail": "<human text>", "fields": {...}}`, `fields`
only for validation errors. 400 invalid input, 401 bad credentials or signature, 403 not allowed
for this client, 404 unknown player, 409 conflict, 413 body larger than 1 MiB, 415 not JSON,
429 throttled (see `Retry-After`).

## What you may rely on when each endpoint returns

- `POST /payments/` (one event): the event is stored exactly once, and that player's
  `total_spend`, `last_paid_at`, `vip` and `payer_status` are current: a `GET` of the player
  right after shows them.
- `POST /payments/batch/`: every event counted as `created` or `duplicate` is stored exactly
  once (a retry of the batch is safe: its events come back as duplicates). The players'
  `total_spend`, `last_paid_at`, `vip` and `payer_status` follow shortly after: within seconds
  in normal operation; `GET /health/` shows how far behind they are (`projection.lag_seconds`,
  the age of the oldest accepted event not yet applied). Without a task queue configured they
  are current when the response arrives.
- `POST /logins/batch/`: each player's `last_login_at` has moved forward when it returns; their
  `payer_status` follows as for payment batches.
- `PUT /players/<account_id>/`: the profile is stored; the response is the player as stored.
- A refund is checked against the payments stored, whether or not the totals have caught up.
"""
