"""django-import-export Resources for players and payments.

The admin, the command and the tasks import through players.services.imports (set-based,
fast at a million rows). These Resources are the library's way to the same rules for
small, scripted imports and exports (`PlayerResource().import_data(dataset)`): natural
keys, skip_unchanged, report_skipped, full_clean on every instance, cached foreign keys,
and the same cell parsers as the bulk path (ISO timestamps with offsets, Chinese dates,
Excel serials, phone numbers as E.164). bench/bench_import.py measures them beside it.
"""

from django.contrib.auth import get_user_model
from import_export import fields, resources, widgets

from .models import Payment, Player
from .tabular import (
    PAYMENT_TEMPLATE_FIELDS,
    PLAYER_TEMPLATE_FIELDS,
    CellError,
    parse_date,
    parse_datetime,
    parse_phone,
    text,
)


class _ParsingWidget(widgets.Widget):
    parser = None

    def clean(self, value, row=None, **kwargs):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return type(self).parser(value)
        except CellError as exc:
            raise ValueError(str(exc)) from None


class DateTimeCellWidget(_ParsingWidget):
    parser = staticmethod(parse_datetime)

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class DateCellWidget(_ParsingWidget):
    parser = staticmethod(parse_date)

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class PhoneCellWidget(_ParsingWidget):
    parser = staticmethod(parse_phone)

    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs) or ""

    def render(self, value, obj=None, **kwargs):
        return str(value or "")


class TextCellWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return text(value)


class PlayerResource(resources.ModelResource):
    """Players by their natural key, the account id. Staff-owned fields are in
    `STAFF_FIELDS` and only imported when a dataset has their column."""

    account_id = fields.Field(attribute="account_id", column_name="account_id", widget=TextCellWidget())
    registered_at = fields.Field(attribute="registered_at", column_name="registered_at", widget=DateTimeCellWidget())
    last_login_at = fields.Field(attribute="last_login_at", column_name="last_login_at", widget=DateTimeCellWidget())
    birthday = fields.Field(attribute="birthday", column_name="birthday", widget=DateCellWidget())
    phone = fields.Field(attribute="phone", column_name="phone", widget=PhoneCellWidget())
    manager = fields.Field(
        attribute="manager",
        column_name="manager",
        widget=widgets.CachedForeignKeyWidget(get_user_model(), field="username"),
    )

    STAFF_FIELDS = ("manager", "notes", "preferred_channel")

    class Meta:
        model = Player
        # The template's columns on the player row (tags and consents live in their own tables).
        fields = tuple(name for name in PLAYER_TEMPLATE_FIELDS if name != "tags" and not name.startswith("consent_"))
        import_id_fields = ("account_id",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_bulk = True
        batch_size = 1000

    def get_import_fields(self):
        """Only the columns the dataset has: a missing staff column changes nothing."""
        headers = set(getattr(self, "_dataset_headers", ()) or ())
        return [f for f in super().get_import_fields() if not headers or f.column_name in headers]

    def before_import(self, dataset, **kwargs):
        self._dataset_headers = dataset.headers
        return super().before_import(dataset, **kwargs)


class PaymentResource(resources.ModelResource):
    """The ledger, for export only: payments are written by players.services.ledger."""

    account_id = fields.Field(attribute="player__account_id", column_name="account_id", readonly=True)
    occurred_at = fields.Field(attribute="occurred_at", column_name="occurred_at", widget=DateTimeCellWidget())

    class Meta:
        model = Payment
        fields = tuple(PAYMENT_TEMPLATE_FIELDS)  # an export reads back through the import
        export_order = fields

    def import_data(self, *args, **kwargs):
        raise NotImplementedError("Payments are imported through players.services.imports (payments_record_batch).")
