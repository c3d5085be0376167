"""Document storage: a local folder written atomically, and an S3-compatible store (moto's server, a real HTTP
endpoint on loopback) shared by two app instances as two web servers would share it."""
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import boto3
import pytest
import weasyprint
from botocore.exceptions import ClientError

from bench.proxy import free_port, wait_listening
from portal import create_app, statements, storage
from portal.extensions import db
from portal.models import Statement
from portal.storage import LocalStore, S3Store
from tests.conftest import CI, make_config
from tests.fixtures import factories

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- local folder


def test_local_put_is_never_seen_half_written(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "documents")
    store.put("statement-1.pdf", b"old statement", "application/pdf")
    new = b"%PDF new statement " * 10_000
    seen_while_writing = []
    real_fsync = os.fsync

    def fsync_and_look(descriptor):
        real_fsync(descriptor)
        seen_while_writing.append((store.get("statement-1.pdf"), sorted(os.listdir(tmp_path / "documents"))))

    monkeypatch.setattr(os, "fsync", fsync_and_look)
    store.put("statement-1.pdf", new, "application/pdf")
    # The new bytes are on disk but not yet under the document's name: a reader still gets the old document.
    document, names = seen_while_writing[0]
    assert document == b"old statement"
    assert len(names) == 2 and names[0].startswith(".statement-1.pdf.")  # the new bytes wait beside it
    assert store.get("statement-1.pdf") == new
    assert os.listdir(tmp_path / "documents") == ["statement-1.pdf"]  # nothing left behind


def test_a_write_killed_halfway_leaves_no_document(tmp_path):
    folder = tmp_path / "documents"
    crash = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from portal.storage import LocalStore

        def killed(descriptor):
            os.kill(os.getpid(), signal.SIGKILL)  # the machine stops between the write and the rename

        os.fsync = killed
        LocalStore(Path({str(folder)!r})).put("statement-7.pdf", b"%PDF half", "application/pdf")
    """)
    result = subprocess.run([sys.executable, "-c", crash], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    [leftover] = os.listdir(folder)
    assert leftover.startswith(".statement-7.pdf.") and (folder / leftover).read_bytes() == b"%PDF half"
    store = LocalStore(folder)
    assert store.get("statement-7.pdf") is None  # the next request renders it again
    store.put("statement-7.pdf", b"%PDF whole", "application/pdf")
    assert store.get("statement-7.pdf") == b"%PDF whole"


@pytest.mark.parametrize("key", ["../outside.pdf", "a/../../outside.pdf", "/etc/outside.pdf", "..", "", "a//b.pdf",
                                 ".statement-1.pdf.abc.tmp", "a\\..\\outside.pdf", "a/./b.pdf"])
def test_keys_that_could_leave_the_folder_are_refused(tmp_path, key):
    store = LocalStore(tmp_path / "documents")
    with pytest.raises(ValueError):
        store.put(key, b"%PDF", "application/pdf")
    with pytest.raises(ValueError):
        store.get(key)
    with pytest.raises(ValueError):
        S3Store("bucket", "statements").object_key(key)
    assert list(tmp_path.rglob("*")) == []


def test_keys_may_have_folders(tmp_path):
    store = LocalStore(tmp_path / "documents")
    store.put("statements/2026/statement-1.pdf", b"%PDF", "application/pdf")
    assert (tmp_path / "documents" / "statements" / "2026" / "statement-1.pdf").read_bytes() == b"%PDF"
    assert store.get("statements/2026/statement-1.pdf") == b"%PDF"
    assert store.get("statements/2026/statement-2.pdf") is None


# ---------------------------------------------------------------- S3-compatible store


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """moto's S3 server on a loopback port, stopped when the module's tests are done."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        if not wait_listening(port, process, 20):
            message = f"moto's S3 server did not start: {log.read_text()[-2000:]}"
            if CI:  # in CI a missing service is a failure, never a skip
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def bucket(moto_endpoint, monkeypatch):
    """A fresh bucket; boto3 finds the (dummy) credentials in the environment, as in production."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    name = f"parity-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=name)
    return s3, name


def machine(database_url, endpoint, bucket_name):
    """One web server's app: the same database and the same bucket as every other."""
    return create_app(make_config(database_url, DOCUMENT_STORE=f"s3://{bucket_name}/statements",
                                  S3_ENDPOINT_URL=endpoint))


def test_a_statement_rendered_on_one_machine_is_read_by_another_without_rendering(app, database_url, moto_endpoint,
                                                                                  bucket, monkeypatch):
    s3, bucket_name = bucket
    renders, clients = [], []
    real_write_pdf, real_client = weasyprint.HTML.write_pdf, boto3.session.Session.client

    def counted_write_pdf(self, *args, **kwargs):
        renders.append(1)
        return real_write_pdf(self, *args, **kwargs)

    def counted_client(self, *args, **kwargs):
        clients.append(args[0] if args else kwargs.get("service_name"))
        return real_client(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", counted_write_pdf)
    monkeypatch.setattr(boto3.session.Session, "client", counted_client)
    account = factories.account()
    factories.charge(account, 45678, day=date(2026, 10, 1))
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    db.session.commit()
    first = machine(database_url, moto_endpoint, bucket_name)
    second = machine(database_url, moto_endpoint, bucket_name)
    try:
        with first.app_context():
            rendered = statements.pdf(db.session.get(Statement, statement.id))
        assert rendered.startswith(b"%PDF") and len(renders) == 1
        [kept] = s3.list_objects_v2(Bucket=bucket_name, Prefix="statements/")["Contents"]
        head = s3.head_object(Bucket=bucket_name, Key=kept["Key"])
        assert head["ServerSideEncryption"] == "AES256" and head["ContentType"] == "application/pdf"
        with second.app_context():
            assert statements.pdf(db.session.get(Statement, statement.id)) == rendered
            assert statements.pdf(db.session.get(Statement, statement.id)) == rendered
        assert len(renders) == 1  # the second machine read it from the bucket
        assert clients == ["s3", "s3"]  # one client per app, however many documents it reads
    finally:
        for instance in (first, second):
            with instance.app_context():
                db.engine.dispose()


def test_a_missing_object_is_none_and_a_missing_bucket_is_an_error(bucket, moto_endpoint):
    s3, bucket_name = bucket
    store = storage.open_store(f"s3://{bucket_name}/statements", moto_endpoint)
    assert store.get("statement-404.pdf") is None
    store.put("statement-1.pdf", b"%PDF one", "application/pdf")
    assert store.get("statement-1.pdf") == b"%PDF one"
    assert s3.get_object(Bucket=bucket_name, Key="statements/statement-1.pdf")["Body"].read() == b"%PDF one"
    wrong = storage.open_store(f"s3://{bucket_name}-gone/statements", moto_endpoint)
    with pytest.raises(ClientError):  # a misnamed bucket is loud, not a render on every request
        wrong.get("statement-1.pdf")
