"""One module per source of dashboard data. Importing this package registers them."""

from . import cases, greetings, team, worklist  # noqa: F401
