from django import forms
from django.utils.translation import gettext_lazy as _

from crm.widgets import DatePicker
from players.models import ContactChannel, ContactDirection, ContactOutcome


class ContactQuickForm(forms.Form):
    """Log a contact from the player page: a few fields, sensible defaults. The contact rules
    (say what it was about, no follow-up in the past) are the service's
    (players.services.service_records.contact_log_check), enforced at every door."""

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
