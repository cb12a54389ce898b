"""POST /api/v1/players/<account_id>/consents/: the game (or its SMS gateway) tells the
CRM what a player consented to, refused or withdrew — or forwards the player's reply
("R", "退订"), which withdraws that channel's marketing. Each item is judged on its own:
good ones are recorded through the consent ledger's writer, bad ones reported by index."""

from __future__ import annotations

from django.db.models import F
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.fields import api_datetime, text_is_clean
from crm.channels import CONSENT_CHANNELS
from players.models import ConsentPurpose, ConsentSource, ConsentStatus, Player
from players.selectors.consents import player_consents
from players.services.consents import MAX_EVIDENCE, consent_clean, consent_record, consent_reply_status
from players.services.privacy import erased_account_key

from .serializers import AwareDateTimeField
from .views import ERASED_RESPONSE, _account_id_valid, _body_object, _forbidden_server, erased_response

MAX_ITEMS = 100


class ConsentItemSerializer(serializers.Serializer):
    """One consent: `status`, or the player's `reply` text (then the status is read from it)."""

    channel = serializers.ChoiceField(choices=list(CONSENT_CHANNELS))
    purpose = serializers.ChoiceField(choices=ConsentPurpose.values, default=ConsentPurpose.MARKETING)
    status = serializers.ChoiceField(choices=ConsentStatus.values, required=False)
    reply = serializers.CharField(max_length=500, required=False, allow_blank=False, trim_whitespace=True)
    occurred_at = AwareDateTimeField(required=False, help_text="ISO 8601 with offset; default: now.")
    evidence = serializers.CharField(max_length=MAX_EVIDENCE, required=False, allow_blank=True)

    def validate(self, data):
        if ("status" in data) == ("reply" in data):
            raise serializers.ValidationError({"status": [_("Give either a status or the player's reply.")]})
        for name in ("reply", "evidence"):
            if name in data and not text_is_clean(data[name]):
                raise serializers.ValidationError({name: [_("Not valid text.")]})
        return data


class ConsentBatchSerializer(serializers.Serializer):
    consents = ConsentItemSerializer(many=True)


class ConsentInForceSerializer(serializers.Serializer):
    channel = serializers.CharField()
    purpose = serializers.CharField()
    status = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class ConsentResultSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    consents = ConsentInForceSerializer(many=True)


class PlayerConsentsView(APIView):
    @extend_schema(
        operation_id="players_consents_record",
        request=ConsentBatchSerializer,
        responses={200: ConsentResultSerializer, 410: ERASED_RESPONSE},
        summary="Record a player's consents, refusals, withdrawals or replies",
    )
    def post(self, request, account_id: str):
        client = request.auth
        player = None
        if _account_id_valid(account_id):  # the game's account id, or the one erased on request
            accounts = [account_id, erased_account_key(account_id)]
            player = (
                Player.objects.filter(account_id__in=accounts).order_by(F("erased_at").asc(nulls_first=True)).first()
            )
        if player is None:
            raise exceptions.NotFound(_("Unknown player."))
        if client.server and player.server != client.server:
            return _forbidden_server(client)
        if player.erased_at:  # nothing is recorded for a player erased on request, not even a refusal
            return erased_response()
        items = _body_object(request).get("consents")
        if not isinstance(items, list) or not items:
            raise exceptions.ValidationError({"consents": [_("A list of consents is required.")]})
        if len(items) > MAX_ITEMS:
            raise exceptions.ValidationError({"consents": [_("At most %(max)d per request.") % {"max": MAX_ITEMS}]})
        recorded, errors = 0, []
        for index, raw in enumerate(items):
            item = ConsentItemSerializer(data=raw if isinstance(raw, dict) else {})
            if not isinstance(raw, dict) or not item.is_valid():
                fields = item.errors if isinstance(raw, dict) else {"non_field_errors": [_("Must be an object.")]}
                errors.append({"index": index, "error": "invalid", "fields": _plain(fields)})
                continue
            data = item.validated_data
            source, status = ConsentSource.API, data.get("status")
            evidence = data.get("evidence", "")
            if "reply" in data:
                source, status = ConsentSource.REPLY, consent_reply_status(data["reply"])
                evidence = data["reply"] if not evidence else f"{data['reply']} — {evidence}"
                if status is None:  # not a refusal keyword: recorded nowhere, said back
                    errors.append(
                        {"index": index, "error": "ignored", "fields": {"reply": [_("Not a refusal keyword.")]}}
                    )
                    continue
                if data["purpose"] != ConsentPurpose.MARKETING:
                    data["purpose"] = ConsentPurpose.MARKETING  # a reply refuses marketing (MIIT Order 31)
            problems = consent_clean(
                channel=data["channel"],
                purpose=data["purpose"],
                status=status,
                evidence=evidence,
                occurred_at=data.get("occurred_at"),
            )
            if problems:
                errors.append({"index": index, "error": "invalid", "fields": problems})
                continue
            consent_record(
                player=player,
                channel=data["channel"],
                purpose=data["purpose"],
                status=status,
                source=source,
                evidence=evidence,
                occurred_at=data.get("occurred_at"),
                via=f"api:{client.name}"[:120],
            )
            recorded += 1
        consents = [
            {
                "channel": c.channel,
                "purpose": c.purpose,
                "status": c.status,
                "occurred_at": api_datetime(c.occurred_at),
            }
            for c in player_consents(player)
        ]
        return Response({"recorded": recorded, "errors": errors, "consents": consents})


def _plain(errors) -> dict:
    """DRF's error detail as plain lists of strings."""
    if isinstance(errors, dict):
        return {name: _plain(value) for name, value in errors.items()}
    if isinstance(errors, list):
        return [str(e) if not isinstance(e, dict | list) else _plain(e) for e in errors]
    return [str(errors)]
