from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.widgets import DatePicker
from players.models import ContactChannel, ContactDirection, ContactOutcome


class ContactQuickForm(forms.Form):
    """Log a contact from the player page: a few fields, sensible defaults."""

    channel = forms.ChoiceField(label=_("channel"), choices=ContactChannel.choices, initial=ContactChannel.PHONE)
    direction = forms.ChoiceField(
        label=_("direction"), choices=ContactDirection.choices, initial=ContactDirection.OUTBOUND
    )
    outcome = forms.ChoiceField(
        label=_("outcome"), choices=[("", "---------"), *ContactOutcome.choices], required=False
    )
    topic = forms.CharField(label=_("topic"), max_length=200, required=False)
    summary = forms.CharField(label=_("summary"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    next_follow_up = forms.DateField(label=_("next follow-up"), required=False, widget=DatePicker())

    def clean_next_follow_up(self):
        value = self.cleaned_data["next_follow_up"]
        if value and value < timezone.localdate():
            raise forms.ValidationError(_("The follow-up date cannot be in the past."))
        return value

    def clean(self):
        data = super().clean()
        if not (data.get("topic") or data.get("summary") or data.get("outcome")):
            raise forms.ValidationError(_("Say what the contact was about: a topic, a summary or an outcome."))
        return data
