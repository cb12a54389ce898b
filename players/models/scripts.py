"""The script library (话术库): what staff say on a call or in a reply, by category, in
the steps the handbooks teach (verify who answers -> introduce oneself -> ask whether it
is a good time -> the purpose -> close politely), with {variables} filled in for the
player when a script is inserted into a contact, a case reply or a task.

Written by `players.services.scripts`; rendered by `players.templating` (the one
renderer, also of campaign messages and greeting texts)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def _script_use_variables():
    from ..templating import SCRIPT_USE, USE_VARIABLES

    return USE_VARIABLES[SCRIPT_USE]


class ScriptCategory(models.TextChoices):
    RETURN_VISIT = "return_visit", _("Outbound return visit")
    COMPLAINT = "complaint", _("Complaint handling")
    GREETING_CALL = "greeting_call", _("Greeting call")
    WIN_BACK = "win_back", _("Win-back")
    INBOUND_FAQ = "inbound_faq", _("Inbound question (FAQ answer)")


# The steps of a scripted call, in order: (field, label).
SCRIPT_STEPS = (
    ("step_verify", _("Verify who answers")),
    ("step_introduce", _("Introduce yourself")),
    ("step_convenient", _("Ask if it is a good time")),
    ("step_purpose", _("Purpose")),
    ("step_close", _("Closing")),
)


class CallScript(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=16, choices=ScriptCategory.choices, db_index=True)
    question = models.CharField(
        _("player's question"),
        max_length=200,
        blank=True,
        help_text=_("For inbound answers: the question this script answers."),
    )
    step_verify = models.TextField(_("verify who answers"), blank=True)
    step_introduce = models.TextField(_("introduce yourself"), blank=True)
    step_convenient = models.TextField(_("ask if it is a good time"), blank=True)
    step_purpose = models.TextField(_("purpose"), help_text=_("The heart of the script (the answer, for inbound)."))
    step_close = models.TextField(_("closing"), blank=True)
    enabled = models.BooleanField(_("in use"), default=True)
    usage_count = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["category", "name"]
        verbose_name = _("call script")
        verbose_name_plural = _("script library")

    def __str__(self):
        return f"{self.get_category_display()} · {self.name}"

    def clean(self):
        from django.core.exceptions import ValidationError

        from ..templating import template_validate

        errors = {}
        for field, _label in SCRIPT_STEPS:
            try:
                template_validate(getattr(self, field), extra_variables=self.use_variables())
            except ValidationError as exc:
                errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)

    def use_variables(self) -> list[str]:
        """The variables its use supplies: {me}, and a greeting call's occasion and gift."""
        from ..templating import SCRIPT_USE, USE_VARIABLES

        names = list(USE_VARIABLES[SCRIPT_USE])
        if self.category == ScriptCategory.GREETING_CALL:
            names += list(USE_VARIABLES.get(ScriptCategory.GREETING_CALL, {}))
        return names

    def text(self) -> str:
        """The steps in order, one paragraph each (before variables are filled in)."""
        return "\n".join(getattr(self, field).strip() for field, _label in SCRIPT_STEPS if getattr(self, field).strip())


# Besides the player's variables: the person calling, filled in when the script is used.
SCRIPT_EXTRA_VARIABLES = tuple(_script_use_variables())
