"""The template renderer moved to `players.templating` (one renderer for campaign
messages, greeting and call scripts, and the script library that contacts and case
replies use); campaigns keeps these names."""

from players.templating import (  # noqa: F401
    TEMPLATE_VARIABLES,
    template_context,
    template_render,
    template_render_context,
    template_validate,
    template_variables,
)
