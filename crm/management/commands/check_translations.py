from django.core.management.base import BaseCommand, CommandError

from crm.i18n_check import missing_translations, xgettext_available


class Command(BaseCommand):
    help = "List user-visible strings of ours that have no Simplified Chinese translation in any catalogue."

    def handle(self, *args, **options):
        if not xgettext_available():
            raise CommandError("xgettext (GNU gettext) is needed: apt-get install gettext")
        missing = missing_translations()
        for item in missing:
            self.stdout.write(str(item))
        if missing:
            raise CommandError(f"{len(missing)} strings have no Chinese translation.")
        self.stdout.write(self.style.SUCCESS("Every string has a Chinese translation."))
