"""WSGI entry point (gunicorn dcp.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")
application = get_wsgi_application()
