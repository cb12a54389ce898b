"""One module per source of dashboard data. Importing this package registers them."""

from . import team, worklist  # noqa: F401
