"""Parity: the billing portal. create_app() builds the Flask app; `portal` never imports `staff`."""
from importlib import import_module
from pathlib import Path

from flask import Flask

from portal.config import ROOT, Config, check_for_production, config_for_environment
from portal.extensions import celery_init_app, csrf, db, limiter, migrate


def create_app(config: Config | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    app.config.from_object(config or config_for_environment())
    check_for_production(app.config)
    _ensure_sqlite_folder(app)
    from portal.web import register_converters

    register_converters(app)  # before any route is added

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    from portal.tasks import BEAT_SCHEDULE  # the factory hands the schedule to Celery; tasks import services

    celery_init_app(app, BEAT_SCHEDULE)

    from portal import auth, cli, i18n, models  # noqa: F401  (models registers the tables)
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
                      webhooks_bp):
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

