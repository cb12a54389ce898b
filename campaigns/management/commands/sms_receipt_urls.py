from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from campaigns.webhooks import RECEIPT_PROVIDERS, sms_receipt_token


class Command(BaseCommand):
    help = "Print the SMS delivery-receipt URLs to enter in the providers' consoles (CRM_SMS_RECEIPT_SECRET)."

    def add_arguments(self, parser):
        parser.add_argument("base_url", help="Where the CRM is reached from the internet, e.g. https://crm.example.com")

    def handle(self, *args, base_url, **options):
        base = base_url.rstrip("/")
        for provider in RECEIPT_PROVIDERS:
            token = sms_receipt_token(provider)
            if not token:
                raise CommandError("Set CRM_SMS_RECEIPT_SECRET first: without it no receipt is accepted.")
            path = reverse("sms-receipts", kwargs={"provider": provider, "token": token})
            self.stdout.write(f"{provider}: {base}{path}")
