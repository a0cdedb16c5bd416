import os

from recsite.handlers import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
application = get_wsgi_application()
