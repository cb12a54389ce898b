"""An admin that only shows: records written by a service (history, ledgers, reports) are
read in the admin, never added, changed or deleted there."""


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
