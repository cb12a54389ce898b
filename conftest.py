"""Root conftest: registers each app's fixtures (Saleor-style)."""

pytest_plugins = [
    "crm.tests.fixtures",
    "crm.tests.browser",
    "players.tests.fixtures",
    "vip.tests.fixtures",
    "campaigns.tests.fixtures",
]
