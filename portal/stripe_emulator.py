"""Run the local Stripe emulator (localstripe) on the loopback interface.

`make run` starts it when no Stripe key is configured, and the tests start one per worker:

    python -m portal.stripe_emulator --port 8420

Unlike `localstripe` itself, it listens on 127.0.0.1 only and keeps nothing on disk.
"""
import argparse
import logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None  # it would write every change to one shared file
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
