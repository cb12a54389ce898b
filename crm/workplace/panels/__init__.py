"""One module per source of dashboard data. Importing this package registers them."""

from . import cases, team, worklist  # noqa: F401
