"""What a person types into the admin's add forms, shared by the tests that post them."""

CONTACT = {
    "channel": "phone",
    "direction": "outbound",
    "contacted_at_0": "2026-11-20",
    "contacted_at_1": "10:00:00",
    "topic": "回访",
    "outcome": "reached",
}
CASE = {"category": "complaint", "severity": "normal", "channel": "phone", "subject": "充值未到账", "description": ""}
