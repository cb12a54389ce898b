"""One module per source of dashboard data. Importing this package registers them."""

from . import campaigns, cases, churn, greetings, satisfaction, team, worklist  # noqa: F401
