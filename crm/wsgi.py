import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
site = get_wsgi_application()

from django.conf import settings  # noqa: E402

from crm.api.handler import application_for  # noqa: E402

if not settings.SECRET_KEY_FROM_ENVIRONMENT:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable: the site is not served on a throwaway key.")

# The game API (/api/v1/) through its own, shorter middleware chain; the rest as usual.
application = application_for(site)
