import os

from recsite.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
application = get_asgi_application()
