"""The VIP tables in a player's data file and erasure (players.services.privacy):
tier and manager history stay whole (reports count them); only the personal values
inside their notes are scrubbed. Registered by `VipConfig.ready`."""


def player_tables_register() -> None:
    from players.services.privacy import PlayerTable, player_table_register

    from .models import ManagerAssignment, TierChange

    player_table_register(PlayerTable(TierChange, "player", scrub=("note",), keep=("reason",)))
    player_table_register(PlayerTable(ManagerAssignment, "player", scrub=("note",)))
