"""Generated documents (statement PDFs), kept under a key where every web server and worker finds them.

A document is rendered once and read back many times, by any machine. `DOCUMENT_STORE` is a local folder (one
machine, or a mount they share) or `s3://bucket/prefix`, an S3-compatible object store (`S3_ENDPOINT_URL` for
one that is not AWS itself). A local write is atomic, so a reader never gets half a file; an object is
stored whole, and encrypted at rest because these are patient documents.
"""
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from flask import current_app


class DocumentStore(Protocol):
    def get(self, key: str) -> bytes | None:
        """The document, or None if none is kept under this key."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep the document under this key, replacing any kept before."""


def get(key: str) -> bytes | None:
    return current().get(key)


def put(key: str, data: bytes, content_type: str) -> None:
    current().put(key, data, content_type)


def current() -> DocumentStore:
    """The app's store, made once per app (and again if its settings change, as tests do)."""
    settings = (current_app.config["DOCUMENT_STORE"], current_app.config.get("S3_ENDPOINT_URL"))
    made = current_app.extensions.get("document_store")
    if made is None or made[0] != settings:
        made = (settings, open_store(*settings))
        current_app.extensions["document_store"] = made
    return made[1]


def open_store(location: str, endpoint_url: str | None = None) -> DocumentStore:
    if location.startswith("s3://"):
        url = urlsplit(location)
        if not url.netloc:
            raise ValueError(f"DOCUMENT_STORE {location!r} names no bucket: use s3://bucket/prefix")
        return S3Store(url.netloc, url.path.strip("/"), endpoint_url)
    return LocalStore(Path(location))


def checked_key(key: str) -> str:
    """A key is a relative name of plain parts ("a/b.pdf"). Nothing that could leave the store's folder: no
    "..", no absolute path, no backslash; and no part starting with a dot, so no key names a temporary file."""
    parts = key.split("/")
    if not key or "\\" in key or "\0" in key or any(not part or part.startswith(".") for part in parts):
        raise ValueError(f"not a document key: {key!r}")
    return key


class LocalStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder.joinpath(*checked_key(key).split("/"))

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # The whole document goes to a temporary file beside the final one, reaches the disk, then takes the
        # final name in one rename: a reader finds the old document or the new one, never part of one. A crash
        # leaves only a dot-named temporary file, which no key names.
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_folder(path.parent)  # the rename itself survives a power cut


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None):
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix, endpoint_url
        self._client = None
        self._client_pid = 0
        self._lock = threading.Lock()

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{checked_key(key)}" if self.prefix else checked_key(key)

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = self._s3().get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise  # no bucket, no permission, the store is down: loud, never a silent render on every request
        return response["Body"].read()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._s3().put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data, ContentType=content_type,
                              ServerSideEncryption="AES256")

    def _s3(self):
        """One client (and connection pool) per process, made on first use. A process forked after it was made
        (gunicorn --preload, Celery's pool) makes its own: a pool's sockets must not be shared across a fork."""
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    import boto3  # imported late: a local store never loads it

                    # Credentials come from boto3's usual chain (environment, shared files, instance role).
                    self._client = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url)
                    self._client_pid = os.getpid()
        return self._client
