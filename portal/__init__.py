"""Parity: the billing portal. create_app() builds the Flask app; `portal` never imports `staff`."""
from importlib import import_module
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import ROOT, Config, check_for_production, config_for_environment, engine_options
from portal.extensions import celery_init_app, csrf, db, limiter, migrate


def create_app(config: Config | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    app.config.from_object(config or config_for_environment())
    check_for_production(app.config)
    _ensure_sqlite_folder(app)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))
    if proxies := app.config["TRUSTED_PROXIES"]:
        # The client's address, scheme and host as the proxies saw them (X-Forwarded-*), one hop each.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    from portal import logs

    logs.init_app(app)
    from portal.web import register_converters

    register_converters(app)  # before any route is added

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    from portal.tasks import BEAT_SCHEDULE  # the factory hands the schedule to Celery; tasks import services

    celery_init_app(app, BEAT_SCHEDULE)

    from portal import auth, cli, health, i18n, models  # noqa: F401  (models registers the tables)
    from portal.patient.views import bp as patient_bp
    from portal.public.email_stop import bp as email_stop_bp
    from portal.public.estimates import bp as public_estimate_bp
    from portal.public.language import bp as language_bp
    from portal.public.registration import bp as registration_bp
    from portal.public.views import bp as public_bp
    from portal.web import register_web
    from portal.webhooks.views import bp as webhooks_bp

    auth.init_app(app)
    i18n.init_app(app)
    for blueprint in (patient_bp, public_bp, public_estimate_bp, registration_bp, email_stop_bp, language_bp,
                      webhooks_bp, health.bp):
        app.register_blueprint(blueprint)
    register_web(app)
    cli.init_app(app)
    for name in app.config["INSTALLED_MODULES"]:
        import_module(name).init_app(app)
    return app


def _ensure_sqlite_folder(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

