"""Compensation approval (players.services.cases): above the threshold of the player's
tier a proposal waits for a supervisor, who approves (it is given, the gift budget
applies) or refuses (with a reason); both are recorded on the case."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from players.models import CaseEvent, CompensationApprovalRule, CompensationProposal, ProposalStatus
from players.services.cases import (
    case_resolve,
    compensation_approve,
    compensation_propose,
    compensation_refuse,
    compensation_threshold_for,
)


@pytest.fixture
def rules(tiers):
    CompensationApprovalRule.objects.create(tier=None, above=Decimal("50"))
    CompensationApprovalRule.objects.create(tier=tiers["V5"], above=Decimal("200"))


def events(case):
    return list(CaseEvent.objects.filter(case=case).order_by("at", "id").values_list("type", flat=True))


def test_the_threshold_is_the_tiers_else_any_tiers_else_none(rules, tiers, make_player):
    assert compensation_threshold_for(make_player(tier=tiers["V5"])) == Decimal("200")
    assert compensation_threshold_for(make_player(tier=tiers["V3"])) == Decimal("50")
    CompensationApprovalRule.objects.filter(tier=None).delete()
    assert compensation_threshold_for(make_player(tier=tiers["V3"])) is None


def test_at_or_below_the_threshold_it_is_given_at_once(rules, tiers, make_player, make_case, manager):
    case = make_case(make_player(manager=manager, tier=tiers["V3"]), actor=manager)
    proposal = compensation_propose(case=case, item="50 钻石", value=Decimal("50"), reason="补偿延迟", actor=manager)
    case.refresh_from_db()
    assert proposal.status == ProposalStatus.GIVEN
    assert (case.compensation_item, case.compensation_value) == ("50 钻石", Decimal("50"))
    assert events(case)[-2:] == ["proposed", "compensated"]


def test_above_it_waits_then_a_supervisor_approves(rules, tiers, make_player, make_case, manager, supervisor):
    case = make_case(make_player(manager=manager, tier=tiers["V3"]), actor=manager)
    case = case_resolve(
        case=case,
        actor=manager,
        resolution="已补发道具",
        compensation_item="限定皮肤",
        compensation_value=Decimal("128"),
        note="充值未到账三天",
    )
    proposal = CompensationProposal.objects.get(case=case)
    assert proposal.status == ProposalStatus.PENDING and proposal.threshold == Decimal("50")
    assert case.compensation_item == ""  # nothing given yet

    compensation_approve(proposal=proposal, actor=supervisor, note="同意")
    case.refresh_from_db()
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED and proposal.decided_by == supervisor
    assert (case.compensation_item, case.compensation_value) == ("限定皮肤", Decimal("128"))
    assert events(case)[-3:] == ["proposed", "compensated", "approved"]
    with pytest.raises(ValidationError):  # decided once
        compensation_refuse(proposal=proposal, actor=supervisor, note="不")


def test_a_refusal_needs_a_reason_and_gives_nothing(rules, tiers, make_player, make_case, manager, supervisor):
    case = make_case(make_player(manager=manager, tier=tiers["V3"]), actor=manager)
    proposal = compensation_propose(case=case, item="888 钻石", value=Decimal("888"), reason="玩家要求", actor=manager)
    with pytest.raises(ValidationError) as no_reason:
        compensation_refuse(proposal=proposal, actor=supervisor, note=" ")
    assert "note" in no_reason.value.message_dict

    compensation_refuse(proposal=proposal, actor=supervisor, note="超出标准，改送 50 钻石")
    case.refresh_from_db()
    assert case.compensation_item == "" and events(case)[-1] == "refused"


def test_only_a_supervisor_other_than_the_proposer_decides(
    rules, tiers, make_player, make_case, manager, other_manager, supervisor
):
    case = make_case(make_player(manager=manager, tier=tiers["V3"]), actor=manager)
    proposal = compensation_propose(case=case, item="皮肤", value=Decimal("100"), reason="r", actor=manager)
    with pytest.raises(PermissionDenied):
        compensation_approve(proposal=proposal, actor=manager)
    with pytest.raises(PermissionDenied):
        compensation_approve(proposal=proposal, actor=other_manager)
    own = compensation_propose(case=case, item="皮肤", value=Decimal("100"), reason="r", actor=supervisor)
    with pytest.raises(PermissionDenied):
        compensation_approve(proposal=own, actor=supervisor)
    # another manager may not even propose on this case
    with pytest.raises(PermissionDenied):
        compensation_propose(case=case, item="x", value=Decimal("1"), reason="r", actor=other_manager)


@pytest.mark.parametrize(
    ("item", "value", "reason", "field"),
    [("", Decimal("1"), "r", "item"), ("x", Decimal("-1"), "r", "value"), ("x", Decimal("1"), "  ", "reason")],
)
def test_a_bad_proposal_is_refused_naming_the_field(make_player, make_case, manager, item, value, reason, field):
    case = make_case(make_player(manager=manager), actor=manager)
    with pytest.raises(ValidationError) as refused:
        compensation_propose(case=case, item=item, value=value, reason=reason, actor=manager)
    assert field in refused.value.message_dict
    assert not CompensationProposal.objects.exists()


def test_the_gift_budget_still_applies_on_approval(rules, tiers, make_player, make_case, manager, supervisor):
    from campaigns.models import GiftBudget

    GiftBudget.objects.create(tier=tiers["V3"], monthly_amount=Decimal("100"))
    case = make_case(make_player(manager=manager, tier=tiers["V3"]), actor=manager)
    proposal = compensation_propose(case=case, item="皮肤", value=Decimal("128"), reason="r", actor=manager)

    with pytest.raises(ValidationError) as over:
        compensation_approve(proposal=proposal, actor=supervisor)

    assert "value" in over.value.message_dict
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING  # still waiting: refuse it or raise the budget
