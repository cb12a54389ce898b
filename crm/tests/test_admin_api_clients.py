"""Editing an API client in the admin goes through `api_client_update`: what the form
refuses names the field, and a new server binding holds on the next request."""

from django.urls import reverse

from crm.models import ApiClient

PAYMENTS = "/api/v1/payments/"


def _payment(server: str, event_id: str) -> dict:
    return {
        "event_id": event_id,
        "account_id": "10086",
        "server": server,
        "kind": "purchase",
        "amount": "6.00",
        "currency": "CNY",
        "occurred_at": "2026-12-01T10:00:00+08:00",
    }


def _edit(client, api_client, **values):
    data = {"name": api_client.name, "game": api_client.game, "server": api_client.server, **values}
    return client.post(reverse("admin:crm_apiclient_change", args=[api_client.pk]), data)


def test_a_server_bound_in_the_admin_holds_on_the_next_request(api, superuser, client):
    assert api.post(PAYMENTS, _payment("s2", "before")).status_code == 201
    client.force_login(superuser)

    response = _edit(client, api.credentials.client, server="s1")

    assert response.status_code == 302
    assert ApiClient.objects.get(pk=api.credentials.client.pk).server == "s1"
    assert api.post(PAYMENTS, _payment("s2", "after")).status_code == 403


def test_a_hostile_edit_is_refused_naming_the_field_and_changes_nothing(api, superuser, client):
    client.force_login(superuser)
    before = ApiClient.objects.values("name", "game", "server").get(pk=api.credentials.client.pk)

    for hostile in ({"name": ""}, {"server": "s" * 500}, {"name": "x" * 500}):
        response = _edit(client, api.credentials.client, **hostile)
        assert response.status_code == 200
        field = next(iter(hostile))
        assert field in response.context["adminform"].form.errors, hostile

    assert ApiClient.objects.values("name", "game", "server").get(pk=api.credentials.client.pk) == before


def test_a_vip_manager_may_not_edit_a_client(api, manager, client):
    client.force_login(manager)
    assert _edit(client, api.credentials.client, server="s9").status_code == 403
    assert ApiClient.objects.get(pk=api.credentials.client.pk).server == ""
