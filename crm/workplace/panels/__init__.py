"""One module per source of dashboard data. Importing this package registers them."""

from . import campaigns, cases, churn, greetings, team, worklist  # noqa: F401
