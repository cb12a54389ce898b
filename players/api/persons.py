"""POST /api/v1/players/<account_id>/person/: a game server links the account to a VIP
person (绑定账号: `{"request_id": ..., "action": "link", "person_account_id": ...}`, any
account of that person) or takes it out of its person (`"action": "unlink"`), exactly once
per request id (a retry with the same body is a duplicate, with another body a conflict).
Every change goes through `players.services.persons`; the account ids of the person are
all it answers (only those of its own server to a client bound to one)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.errors import django_validation_fields, error_body
from crm.api.fields import text_is_clean
from players.models import Player
from players.services.persons import LINK, UNLINK, LinkConflict, account_link_request
from players.services.privacy import erased_account_key

from .views import ERASED_RESPONSE, _account_id_valid, _body_object, _forbidden_server, _invalid, erased_response


class PersonLinkSerializer(serializers.Serializer):
    request_id = serializers.CharField(
        min_length=1, max_length=128, trim_whitespace=False, help_text="Unique per API client; a retry reuses it."
    )
    action = serializers.ChoiceField(choices=[LINK, UNLINK])
    person_account_id = serializers.CharField(
        required=False,
        max_length=64,
        trim_whitespace=False,
        help_text="With action=link: any account of the person to link to.",
    )

    def validate(self, data):
        if not text_is_clean(data["request_id"]) or data["request_id"] != data["request_id"].strip():
            raise serializers.ValidationError({"request_id": [_("1 to 128 characters, without surrounding spaces.")]})
        other = data.get("person_account_id")
        if data["action"] == LINK and not other:
            raise serializers.ValidationError({"person_account_id": [_("Required to link an account.")]})
        if data["action"] == UNLINK and other:
            raise serializers.ValidationError({"person_account_id": [_("Not used to unlink an account.")]})
        if other is not None and not _account_id_valid(other):
            raise serializers.ValidationError(
                {"person_account_id": [_("1 to 64 characters, without surrounding spaces.")]}
            )
        return data


class PersonLinkResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["linked", "unlinked", "unchanged", "duplicate"])
    request_id = serializers.CharField()
    account_id = serializers.CharField()
    person_account_id = serializers.CharField(help_text="The person's main account.")
    accounts = serializers.ListField(child=serializers.CharField(), help_text="Every account of the person.")


def _player(account_id: str) -> Player | None:
    """The account the game names, or the one erased on request under that id (then 410)."""
    if not _account_id_valid(account_id):
        return None
    accounts = [account_id, erased_account_key(account_id)]
    return Player.objects.filter(account_id__in=accounts).order_by(F("erased_at").asc(nulls_first=True)).first()


class PlayerPersonView(APIView):
    @extend_schema(
        operation_id="players_person_link",
        request=PersonLinkSerializer,
        responses={
            200: PersonLinkResultSerializer,
            409: OpenApiResponse(description="conflict: the request id with another body, or the accounts' state"),
            410: ERASED_RESPONSE,
        },
        summary="Link an account to a VIP person, or unlink it",
    )
    def post(self, request, account_id: str):
        client = request.auth
        serializer = PersonLinkSerializer(data=_body_object(request))
        if not serializer.is_valid():
            raise exceptions.ValidationError(serializer.errors)
        data = serializer.validated_data
        account = _player(account_id)
        if account is None:
            raise exceptions.NotFound(_("Unknown player."))
        person = None
        if data["action"] == LINK:
            person = _player(data["person_account_id"])
            if person is None:
                return Response(
                    error_body(404, _("Unknown player."), {"person_account_id": [_("Unknown player.")]}),
                    status=status.HTTP_404_NOT_FOUND,
                )
        if client.server and any(p.server != client.server for p in (account, person) if p is not None):
            return _forbidden_server(client)
        if any(p.erased_at for p in (account, person) if p is not None):
            return erased_response()
        try:
            outcome, result = account_link_request(
                client=client, request_id=data["request_id"], action=data["action"], account=account, person=person
            )
        except LinkConflict as exc:
            return Response(
                error_body(409, " ".join(exc.messages), django_validation_fields(exc)), status=status.HTTP_409_CONFLICT
            )
        except DjangoValidationError as exc:
            return _invalid(django_validation_fields(exc))
        if outcome == "conflict":
            body = error_body(409, _("This request id was already used with a different body."))
            body["request_id"] = data["request_id"]
            return Response(body, status=status.HTTP_409_CONFLICT)
        if outcome == "duplicate":
            result = {**result, "status": "duplicate"}
        return Response(result, status=status.HTTP_200_OK)
