import os

from django.core.wsgi import get_wsgi_application

from whatsapp_platform.threads import thread_switch_interval_apply

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_platform.settings")
# gunicorn's gthread workers answer webhooks on several threads: an answer waiting on its INSERT gets the GIL back
# sooner.
thread_switch_interval_apply()
application = get_wsgi_application()
