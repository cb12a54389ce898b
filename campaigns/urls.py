from django.urls import path

from .webhooks import sms_receipts

urlpatterns = [
    path("sms/<str:provider>/<str:token>/", sms_receipts, name="sms-receipts"),
]
