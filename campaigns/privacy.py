"""The campaign tables in a player's data file and erasure (players.services.privacy):
tasks, messages, targets, greetings and gifts stay as rows (results and budgets count
them); the words written to or about the player are erased. Registered by
`CampaignsConfig.ready`."""


def _task_title(task) -> str:
    return task.title_text


def _message_reason(message) -> str:
    return message.status_reason_text


def player_erased_close(*, player, values) -> dict[str, int]:
    """The erasure's hook (players.services.privacy, same transaction): nothing stays open
    for the player here either; each table through its writer."""
    from .services.campaigns import tasks_cancel_erased
    from .services.messaging import messages_cancel_erased

    return {
        "tasks cancelled": tasks_cancel_erased(player_id=player.pk),
        "messages cancelled": messages_cancel_erased(player_id=player.pk),
    }


def player_tables_register() -> None:
    from players.services.privacy import PlayerTable, player_table_register

    from .models import CampaignTarget, GiftEntry, Greeting, Message, OutreachTask, PlayerYearSpend, WecomContact

    player_table_register(
        PlayerTable(
            OutreachTask,
            "player",
            erase={"script": "", "note": ""},
            scrub=("title",),
            scrub_json=("title_params",),
            keep=("kind", "status", "outcome", "source", "title_code", "status_reason"),
            hidden=("title_code", "title_params", "source"),
            display={"title": _task_title},
        )
    )
    player_table_register(
        PlayerTable(
            Message,
            "player",
            erase={"subject": "", "body": ""},
            scrub=("last_error",),
            scrub_json=("status_params",),
            keep=("channel", "status", "status_reason", "source", "provider_batch", "provider_ref"),
            hidden=("status_params", "source", "provider_batch", "provider_ref"),
            display={"status_reason": _message_reason},
        )
    )
    player_table_register(PlayerTable(CampaignTarget, "player", keep=("outcome",)))
    player_table_register(
        PlayerTable(Greeting, "player", erase={"note": ""}, keep=("status", "claim"), hidden=("claim",))
    )
    player_table_register(
        PlayerTable(GiftEntry, "player", scrub=("reason",), keep=("kind", "item", "code", "source"), hidden=("source",))
    )
    player_table_register(PlayerTable(PlayerYearSpend, "player"))  # sums of the ledger, kept as it is
    # The player's WeCom customer: their WeChat name and the member's remark are erased; WeCom's
    # id for them stays (it names nobody outside WeCom, and keeps the sync from re-adding them).
    player_table_register(
        PlayerTable(
            WecomContact,
            "player",
            erase={"name": "", "remark": ""},
            keep=("external_userid",),
            hidden=("external_userid",),
        )
    )
    # The company's tags on that customer (names of the company's, not the player's words): in the data file.
    player_table_register(PlayerTable(WecomContact.tags.through, "wecomcontact__player"))
