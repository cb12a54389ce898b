import itertools

import pytest

from campaigns.models import GreetingRule

_rule_names = itertools.count(1)
_script_names = itertools.count(1)


def library_script(text: str, category: str):
    """A script of the library (话术库) whose purpose is `text`."""
    from players.models import CallScript
    from players.services.scripts import script_save

    return script_save(script=CallScript(name=f"script {next(_script_names)}", category=category, step_purpose=text))


@pytest.fixture
def make_rule(db):
    """make_rule(occasion="birthday", task_lead_days=1, ...) -> a saved, validated GreetingRule."""

    def make(*, tags=(), **fields):
        fields.setdefault("name", f"rule {next(_rule_names)}")
        fields.setdefault("occasion", "birthday")
        if "message_channel" not in fields and "task_lead_days" not in fields:
            fields["task_lead_days"] = 1
        if not fields.get("message_channel") and fields.get("template"):
            # a call's script comes from the library: `template=` names its text here
            fields["call_script"] = library_script(fields.pop("template"), "greeting_call")
        rule = GreetingRule(**fields)
        rule.full_clean()
        rule.save()
        if tags:
            rule.tags.set(tags)
        return rule

    return make


@pytest.fixture
def make_campaign(db, supervisor):
    """make_campaign(segment={...}, channel="sms", ...) -> a saved draft campaign."""
    from datetime import date

    from campaigns.models import Campaign
    from campaigns.services.campaigns import campaign_save

    def make(team=None, **fields):
        fields.setdefault("name", "Win back quiet whales")
        fields.setdefault("template", "您好 {nickname}，好久不见！")
        if fields.get("channel", "phone_task") == "phone_task" and "call_script" not in fields:
            # a phone campaign's script comes from the library: `template=` names its text here
            fields["call_script"] = library_script(fields.pop("template"), "win_back")
        fields.setdefault("start_date", date(2026, 11, 22))
        fields.setdefault("due_date", date(2026, 11, 30))
        fields.setdefault("segment", {})
        # No control group unless a test asks for one: the model's 10 % default with a random
        # seed would leave a test's few players out of the campaign one run in ten.
        fields.setdefault("holdout_percent", 0)
        return campaign_save(campaign=Campaign(**fields), actor=supervisor, team=team)

    return make
