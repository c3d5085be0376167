"""The deployment recipe on loopback: gunicorn web servers started with the repository's `gunicorn.conf.py`, and
nginx in front of them configured from `deploy/nginx.conf` itself (its upstreams, ports, certificate and log
paths pointed at a scratch folder; every other line as shipped), so the tests and the soak exercise the files an
operator installs.
"""
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_EXAMPLE = ROOT / "deploy" / "nginx.conf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def render_nginx(folder: Path, upstream_ports: list[int], https_port: int, http_port: int) -> Path:
    """deploy/nginx.conf for loopback, wrapped in the few lines a site file leaves to the main config."""
    site = NGINX_EXAMPLE.read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstream_ports)
    site, found = re.subn(r"(    server \S+:\d+ [^\n]*;\n)+", servers, site, count=1)
    cert, key = self_signed_certificate(folder)
    for pattern, replacement in ((r"listen 80;", f"listen 127.0.0.1:{http_port};"),
                                 (r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
                                 (r"ssl_certificate \S+;", f"ssl_certificate {cert};"),
                                 (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};"),
                                 (r"access_log \S+ parity;", f"access_log {folder / 'access.log'} parity;"),
                                 (r"alias \S+;", f"alias {ROOT / 'static'}/;")):
        site, count = re.subn(pattern, replacement, site)
        found += count
    if found != 7:
        raise RuntimeError("deploy/nginx.conf changed shape: update bench/proxy.py's substitutions")
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    # Started by root, nginx's workers would run as "nobody", who cannot read a checkout in a private folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    main.write_text(f"""{user}worker_processes 1;
error_log {folder / 'error.log'} warn;
pid {folder / 'nginx.pid'};
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder / 'site.conf'};
}}
""")
    return main


def start_nginx(folder: Path, upstream_ports: list[int]) -> tuple[subprocess.Popen, int]:
    """nginx in the foreground from the rendered example; returns the process and its HTTPS port."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (make system-deps installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    https_port, http_port = free_port(), free_port()
    config = render_nginx(folder, upstream_ports, https_port, http_port)
    checked = subprocess.run([binary, "-t", "-q", "-p", str(folder), "-c", str(config)], capture_output=True, text=True)
    if checked.returncode:
        raise RuntimeError(f"nginx refused the example configuration: {checked.stderr.strip()}")
    with open(folder / "stderr.log", "wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([binary, "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=output)
    if not wait_listening(https_port, process, 20):
        process.kill()
        raise RuntimeError(f"nginx did not start: {(folder / 'error.log').read_text()[-1000:]}")
    return process, https_port


def start_gunicorn(env: dict, port: int, log: Path, workers: int = 1, threads: int = 4) -> subprocess.Popen:
    """One web server as the recipe starts it (`gunicorn -c gunicorn.conf.py portal.wsgi:app`), in its own
    process group so a fault can kill the master and its workers at once."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "portal.wsgi:app"], cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                 "GUNICORN_THREADS": str(threads)},
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    if not wait_answering(f"http://127.0.0.1:{port}/healthz", process):
        stop(process)
        raise RuntimeError(f"gunicorn did not start on port {port}: {log.read_text()[-2000:]}")
    return process


def wait_answering(url: str, process: subprocess.Popen, seconds: float = 120) -> bool:
    """Until the server answers its health probe: the port opens before a worker has loaded the app."""
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(process: subprocess.Popen, seconds: float = 15) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
