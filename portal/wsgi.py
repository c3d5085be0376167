"""For a production WSGI server: `gunicorn portal.wsgi:app`."""
from portal import create_app

app = create_app()
