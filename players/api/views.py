"""The game API's player, payment and login endpoints (../shared/API.md)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.errors import django_validation_fields, error_body
from crm.api.fields import text_is_clean
from crm.api.schema import ERROR_SCHEMA
from players.filters import PlayerFilterSet
from players.models import NOT_ERASED, PaymentSource, Player, player_erased_error
from players.services import player_upsert
from players.services.activity import logins_record_batch
from players.services.events import event_id_echo, payment_event_clean
from players.services.ledger import MAX_BATCH, payment_record_clean, payments_record_batch
from players.services.privacy import ERASED_PREFIX, PlayerErased
from players.services.profile_engines import PLAYER_CARD_FIELDS, profile_engine
from players.services.projection import projection_lag, projection_lag_warn_seconds
from players.services.servers import server_current

from .serializers import (
    HealthSerializer,
    LoginBatchResultSerializer,
    LoginBatchSerializer,
    PaymentBatchResultSerializer,
    PaymentBatchSerializer,
    PaymentEventSerializer,
    PaymentResultSerializer,
    PlayerProfileSerializer,
    PlayerSerializer,
    SurveyAnswerResultSerializer,
    SurveyAnswerSerializer,
    player_body,
)

log = logging.getLogger("crm.api")
security_log = logging.getLogger("crm.security")


def players_for_api():
    # A player erased on request is not listed (its account id is a digest, GET is 404).
    return Player.objects.filter(NOT_ERASED).select_related("tier").only(*PLAYER_CARD_FIELDS)


def player_card(account_id: str):
    """One player as the API shows it (see profile_engines: a prepared statement on PostgreSQL)."""
    return profile_engine().player_card(account_id)


def _invalid(fields: dict) -> Response:
    return Response(error_body(400, _("Invalid input."), fields), status=status.HTTP_400_BAD_REQUEST)


# What an account erased on request answers where the game would write about the player.
ERASED_RESPONSE = OpenApiResponse(
    ERROR_SCHEMA, description="erased: the player's personal data was erased on request (PIPL Art. 47)"
)


def erased_response(detail: str = "") -> Response:
    """410 for an account whose personal data was erased on request (PIPL Art. 47)."""
    detail = detail or player_erased_error().messages[0]
    return Response(error_body(410, detail, code="erased"), status=status.HTTP_410_GONE)


def _body_object(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": [_("The body must be a JSON object.")]})
    return data


def _account_key(value) -> str | None:
    """An event's account id as the event cleaner will store it, or None if it will refuse it."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not text_is_clean(value):
        return None
    value = value.strip()
    return value if 0 < len(value) <= 64 else None


def _stored_servers(client, events: list) -> dict[str, str]:
    """{account id: stored server} of the existing players the events name; only for a
    client bound to one server (an unbound client pays no query)."""
    if not client.server:
        return {}
    keys = {_account_key(event.get("account_id")) for event in events if isinstance(event, dict)}
    keys.discard(None)
    return dict(Player.objects.filter(account_id__in=keys).values_list("account_id", "server")) if keys else {}


def _server_allowed(client, event, stored: dict[str, str]) -> bool:
    """A client bound to one server reads and writes only that server's players: the
    stored player's server decides; a new player gets the event's server, which must be
    the client's and defaults to it."""
    if not client.server or not isinstance(event, dict):
        return True
    server = event.get("server")
    if server in (None, ""):
        event["server"] = client.server
    elif server != client.server and not (isinstance(server, str) and server_current(server) == client.server):
        return False  # an old id merged into the client's server (合服) is the client's server
    stored_server = stored.get(_account_key(event.get("account_id")))
    return stored_server is None or stored_server == client.server


def _forbidden_server(client) -> Response:
    return Response(
        error_body(
            403,
            _("This API client may read and write only the players of server %(server)s.") % {"server": client.server},
        ),
        status=status.HTTP_403_FORBIDDEN,
    )


def _events(request) -> list:
    events = _body_object(request).get("events")
    if not isinstance(events, list):
        raise exceptions.ValidationError({"events": [_("A list of events is required.")]})
    if len(events) > MAX_BATCH:
        raise exceptions.ValidationError({"events": [_("At most %(max)d events per request.") % {"max": MAX_BATCH}]})
    return events


def conflict_log(client, event_id, stored: str, received: str) -> None:
    log.warning(
        "payment conflict: client=%s event_id=%r stored_digest=%s received_digest=%s",
        client.pk,
        event_id,
        stored,
        received,
    )


class PaymentView(APIView):
    @extend_schema(
        operation_id="payments_create",
        request=PaymentEventSerializer,
        responses={
            201: PaymentResultSerializer,
            200: OpenApiResponse(PaymentResultSerializer, description="duplicate: the same event again"),
        },
        summary="Record one payment event",
    )
    def post(self, request):
        client = request.auth
        raw = _body_object(request)
        if not _server_allowed(client, raw, _stored_servers(client, [raw])):
            return _forbidden_server(client)
        clean, errors = payment_event_clean(raw)
        if errors:
            return _invalid(errors)
        try:
            result = payment_record_clean(clean, source=PaymentSource.API, source_ref=str(client.pk))
        except DjangoValidationError as exc:
            return _invalid(django_validation_fields(exc))
        if result.status == "conflict":
            conflict_log(client, clean["event_id"], result.payment.fingerprint, result.fingerprint)
            body = error_body(409, _("This event id was already recorded with different content."))
            body["event_id"] = clean["event_id"]
            return Response(body, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response({"status": result.status, "event_id": clean["event_id"]}, status=code)


class PaymentBatchView(APIView):
    @extend_schema(
        operation_id="payments_batch",
        request=PaymentBatchSerializer,
        responses={200: PaymentBatchResultSerializer},
        summary="Record up to 1000 payment events, each judged on its own",
    )
    def post(self, request):
        client = request.auth
        allowed, positions, forbidden = _events_by_server(client, _events(request), with_event_id=True)
        result = payments_record_batch(events=allowed, source=PaymentSource.API, source_ref=str(client.pk))
        for _index, event_id, stored, received in result.conflict_digests:
            conflict_log(client, event_id, stored, received)
        return _batch_response(result, positions, forbidden)


class LoginBatchView(APIView):
    @extend_schema(
        operation_id="logins_batch",
        request=LoginBatchSerializer,
        responses={200: LoginBatchResultSerializer},
        summary="Record up to 1000 logins; last login only moves forward",
    )
    def post(self, request):
        client = request.auth
        allowed, positions, forbidden = _events_by_server(client, _events(request), with_event_id=False)
        return _batch_response(logins_record_batch(events=allowed), positions, forbidden)


def _events_by_server(client, events: list, *, with_event_id: bool) -> tuple[list, list[int], list[dict]]:
    """(events this client may write, their positions in the request, a "forbidden"
    error for each of the others), so a batch is judged event by event."""
    allowed, positions, forbidden = [], [], []
    stored = _stored_servers(client, events)
    for index, event in enumerate(events):
        if _server_allowed(client, event, stored):
            allowed.append(event)
            positions.append(index)
            continue
        error = {"index": index, "error": "forbidden"}
        if with_event_id:
            error["event_id"] = event_id_echo(event.get("event_id"))
        error["fields"] = {"server": [_("This API client may not write for this server.")]}
        forbidden.append(error)
    return allowed, positions, forbidden


def _batch_response(result, positions: list[int], forbidden: list[dict]) -> Response:
    """A batch's answer: the service numbered the events it was given, the client's
    numbers are their positions in the request; then the events refused by server."""
    for error in result.errors:
        error["index"] = positions[error["index"]]
    result.errors += forbidden
    return Response(result.as_dict())


def _account_id_valid(account_id: str) -> bool:
    return (
        0 < len(account_id) <= 64
        and text_is_clean(account_id)
        and account_id == account_id.strip()
        and not account_id.startswith(ERASED_PREFIX)  # an erased player's digest is no account id of the game
    )


class PlayerDetailView(APIView):
    @extend_schema(operation_id="players_retrieve", responses={200: PlayerSerializer}, summary="A player")
    def get(self, request, account_id: str):
        player = player_card(account_id) if _account_id_valid(account_id) else None
        if player is None:
            raise exceptions.NotFound(_("Unknown player."))
        if request.auth.server and player.server != request.auth.server:
            return _forbidden_server(request.auth)
        return Response(player_body(player))

    @extend_schema(
        operation_id="players_upsert",
        request=PlayerProfileSerializer,
        responses={200: PlayerSerializer, 201: PlayerSerializer, 410: ERASED_RESPONSE},
        summary="Create or update the profile the game knows",
    )
    def put(self, request, account_id: str):
        client = request.auth
        if not _account_id_valid(account_id):
            return _invalid({"account_id": [_("1 to 64 characters, without surrounding spaces.")]})
        serializer = PlayerProfileSerializer(data=_body_object(request))
        if not serializer.is_valid():
            raise exceptions.ValidationError(serializer.errors)
        data = dict(serializer.validated_data)
        if client.server:
            profile = {"account_id": account_id, "server": data.get("server")}
            if not _server_allowed(client, profile, _stored_servers(client, [profile])):
                return _forbidden_server(client)
            data["server"] = client.server
        try:
            player, created = player_upsert(account_id=account_id, data=data)
        except DjangoValidationError as exc:
            return _invalid(django_validation_fields(exc))
        except PlayerErased:
            return erased_response(
                _(
                    "This player's personal data was erased on request: the profile is not stored. "
                    "Payments and logins for the account are still recorded."
                )
            )
        player = player_card(account_id)
        return Response(
            PlayerSerializer(player).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class PlayerCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class PlayerListView(ListAPIView):
    serializer_class = PlayerSerializer
    filterset_class = PlayerFilterSet
    pagination_class = PlayerCursorPagination

    def get_queryset(self):
        players = players_for_api()
        client = self.request.auth  # None while the schema is generated
        if client is not None and client.server:  # a client bound to one server lists only its server's players
            players = players.filter(server=client.server)
        return players

    @extend_schema(operation_id="players_list", summary="Players, filtered, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SurveyAnswerView(APIView):
    """The game client's in-game answer to a satisfaction survey (the token is the one
    the survey message carried; the account must be the survey's player)."""

    @extend_schema(
        operation_id="surveys_answer",
        request=SurveyAnswerSerializer,
        responses={200: SurveyAnswerResultSerializer},
        summary="Answer a satisfaction survey in the game (1-5 and a reason, once)",
    )
    def post(self, request):
        from players.models import SurveyVia
        from players.services.surveys import survey_answer, survey_from_token

        raw = _body_object(request)
        token, account_id = raw.get("token"), raw.get("account_id")
        errors = {}
        if not isinstance(token, str) or not 0 < len(token) <= 200:
            errors["token"] = [_("The survey's token, as the survey message carried it.")]
        if not isinstance(account_id, str) or not _account_id_valid(account_id):
            errors["account_id"] = [_("A valid account id is required.")]
        if errors:
            return _invalid(errors)
        survey = survey_from_token(token)
        if survey is None or survey.player.account_id != account_id:
            raise exceptions.NotFound(_("No such survey for this player, or it has expired."))
        if request.auth.server and survey.player.server != request.auth.server:
            return _forbidden_server(request.auth)
        try:
            survey = survey_answer(
                survey=survey, score=raw.get("score"), reason=raw.get("reason") or "", via=SurveyVia.IN_GAME
            )
        except DjangoValidationError as exc:
            fields = django_validation_fields(exc)
            if "survey" in fields:
                body = error_body(409, " ".join(fields["survey"]))
                return Response(body, status=status.HTTP_409_CONFLICT)
            return _invalid(fields)
        return Response({"status": "answered", "score": survey.score})


class HealthView(APIView):
    """For operators and monitoring: is the CRM keeping up? Authenticated (an API
    client's key); unsigned, as every GET."""

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer},
        summary="How far the projection of accepted events is behind",
        description=(
            "`projection.lag_seconds` is the age of the oldest accepted payment or login whose consequences "
            "(totals, tier, payer status) are not yet applied, 0 when none is waiting; `pending_players` how many "
            "players wait. `status` is `lagging` when the lag is over the operator's threshold "
            "(CRM_PROJECTION_LAG_WARN_SECONDS), else `ok`."
        ),
    )
    def get(self, request):
        lag = projection_lag()
        body = {
            "status": "lagging" if lag.seconds > projection_lag_warn_seconds() else "ok",
            "projection": lag.as_dict(),
        }
        return Response(body)
