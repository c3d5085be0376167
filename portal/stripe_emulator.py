"""Run the local Stripe emulator (localstripe) on the loopback interface.

`make run` starts it when no Stripe key is configured, and the tests start one per worker:

    python -m portal.stripe_emulator --port 8420

Unlike `localstripe` itself, it listens on 127.0.0.1 only and keeps nothing on disk. It also keeps the
last requests it received (method, path, body, the Stripe-Version and Idempotency-Key headers) and shows
them at `GET /_parity/requests`, so tests can check what we sent, which the emulator itself does not
enforce (live Stripe does); `POST /_parity/refunds/<id>/fail` makes a refund fail, as a bank can. And it
keeps Stripe's promise about idempotency keys, which localstripe ignores: a POST repeated with the same key
gets the first answer back instead of creating (and charging) again, and the same key with other parameters
is refused, as live Stripe does (`POST /_parity/idempotency/forget` forgets the keys: the tests call it
between tests, whose databases start their ids again).
"""
import argparse
import asyncio
import hashlib
import json
import logging
from collections import deque
from urllib.parse import parse_qsl

KEPT_REQUESTS = 500


def _body(raw: bytes, content_type: str):
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace")
    if content_type == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return dict(parse_qsl(text, keep_blank_values=True))  # flat keys, as sent: payment_method_types[0]=card


def recording(web, seen: deque):
    """A middleware keeping what each API request carried (the list itself is not recorded)."""

    @web.middleware
    async def record(request, handler):
        if request.path.startswith("/v1/"):
            seen.append({"method": request.method, "path": request.path,
                         "query": dict(request.query), "body": _body(await request.read(), request.content_type),
                         "stripe_version": request.headers.get("Stripe-Version"),
                         "idempotency_key": request.headers.get("Idempotency-Key")})
        return await handler(request)

    return record


def idempotent(web, answers: dict, locks: dict):
    """A middleware replaying the answer to a POST whose Idempotency-Key was seen (kept for the process's life;
    Stripe keeps them 24 hours). Requests with one key wait for each other, so the second sees the first's."""

    @web.middleware
    async def replay(request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        body = await request.read()
        fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
        async with locks.setdefault(key, asyncio.Lock()):
            if key in answers:
                seen_fingerprint, status, text = answers[key]
                if seen_fingerprint != fingerprint:
                    return web.json_response({"error": {
                        "type": "idempotency_error", "message": "Keys for idempotent requests can only be used "
                        "with the same parameters they were first used with."}}, status=400)
                return web.Response(status=status, text=text, content_type="application/json",
                                    headers={"Idempotent-Replayed": "true"})
            response = await handler(request)
            if response.status < 500 and isinstance(response, web.Response) and response.text is not None:
                answers[key] = (fingerprint, response.status, response.text)
            return response

    return replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None  # it would write every change to one shared file
    seen: deque = deque(maxlen=KEPT_REQUESTS)
    app.middlewares.insert(0, recording(web, seen))
    answers: dict = {}
    app.middlewares.insert(1, idempotent(web, answers, {}))

    async def requests_seen(request):
        return web.json_response(list(seen))

    async def fail_refund(request):
        # What Stripe does when the bank returns a refund: its status becomes failed.
        refund = resources.Refund._api_retrieve(request.match_info["id"])
        refund.status = "failed"
        return web.json_response(refund._export())

    app.router.add_get("/_parity/requests", requests_seen)
    async def forget_keys(request):
        answers.clear()
        return web.json_response({"forgotten": True})

    app.router.add_post("/_parity/refunds/{id}/fail", fail_refund)
    app.router.add_post("/_parity/idempotency/forget", forget_keys)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
