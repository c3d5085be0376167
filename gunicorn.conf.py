"""Gunicorn settings for a Parity web server: `gunicorn -c gunicorn.conf.py portal.wsgi:app`.

Each setting can be changed from the environment, so one file serves every machine (see docs/deploy.md).
"""
import multiprocessing
import os

# Behind the reverse proxy, on loopback or a private address; the proxy terminates TLS.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads let a worker wait on Stripe or the database for one request while it serves another.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# A request slower than this is a fault (the ERA upload and reports hand long work to Celery).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are recycled now and then so a slow leak never grows unbounded; the jitter keeps them from all
# restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# The app is loaded in each worker, after the fork: database pools and Redis connections are never shared
# between processes.
preload_app = False
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Requests are logged by the app itself as JSON lines (portal/logs.py), with a request id and no patient data;
# gunicorn's own access log would repeat them with full query strings.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "parity-web"
# Headers and request lines: small, as the app needs; larger is refused before it reaches Flask.
limit_request_line = 8190
limit_request_fields = 100
