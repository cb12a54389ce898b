"""Form widgets shared by every screen."""

from django import forms


class DatePicker(forms.DateInput):
    """The browser's date picker. Its value must be ISO (`2026-12-06`): a localised value
    such as zh-hans's `2026/12/06` is rejected by `<input type=date>`, which then shows
    an empty field and submits nothing."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")
