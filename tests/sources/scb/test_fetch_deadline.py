"""The fetch deadline holds for every server: HTTP/1.0, ``Connection: close``,
keep-alive, chunked and TLS servers that drip their headers or their bodies, a TLS
handshake that drips, a reused keep-alive connection that drips, and a name lookup
that never answers.

Each server here is a raw TCP (or TLS) server on 127.0.0.1 that writes its answer one
piece every :data:`INTERVAL` seconds, less than the deadline, so that no per-read
socket timeout ever trips: only the deadline can end the run. Every case runs
``strukturbild fetch scb`` through the command line with ``--timeout``
:data:`TIMEOUT` and must end with exit 2, a message naming the URL, nothing written,
within :data:`TIMEOUT` plus :data:`SLACK` seconds. Without the watchdog's shutdown the
stop would come at the first piece after the deadline, ``INTERVAL`` later, which is
more than the slack.

Set ``STRUKTURBILD_DEADLINE_REPORT=FILE`` to write the table of cases (server kind,
what it does, exit code, first line of the message, seconds to stop) to FILE.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strukturbild.cli import main
from strukturbild.sources.scb import deadline
from strukturbild.sources.scb.deadline import DeadlineError, Watchdog, resolve

#: --timeout of every case, seconds.
TIMEOUT = 2.0
#: Seconds between two pieces of a dripping answer: below the deadline, so that the
#: per-read socket timeouts (set to the time left when the request starts) never trip.
INTERVAL = 1.8
#: How much later than the deadline the run may end.
SLACK = 1.0

_REPORT: list[tuple[str, str, int, str, float]] = []


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    target = os.environ.get("STRUKTURBILD_DEADLINE_REPORT")
    if target and _REPORT:
        lines = ["| server | what it does | exit | first line of the message | seconds |",
                 "| --- | --- | --- | --- | --- |"]
        lines += [f"| {k} | {what} | {code} | `{first}` | {dt:.2f} |"
                  for k, what, code, first, dt in _REPORT]
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- servers


@dataclass
class Answer:
    """One answer: ``head`` (status line and headers), then ``body``, or ``piece``
    written again and again; ``drip_head`` writes the head one byte at a time."""

    head: bytes
    body: bytes = b""
    piece: bytes | None = None
    drip_head: bool = False


CONFIG = json.dumps({"maxDataCells": 150000, "maxCallsPerTimeWindow": 30,
                     "timeWindow": 10}).encode()
JSON = b"Content-Type: application/json\r\n"
KINDS: dict[str, tuple[bytes, bytes]] = {
    # kind: (head, one piece of the endless body)
    "HTTP/1.0": (b"HTTP/1.0 200 OK\r\n" + JSON + b"Content-Length: 100000\r\n\r\n", b" "),
    "Connection: close": (b"HTTP/1.1 200 OK\r\n" + JSON + b"Content-Length: 100000\r\n"
                          b"Connection: close\r\n\r\n", b" "),
    "keep-alive": (b"HTTP/1.1 200 OK\r\n" + JSON + b"Content-Length: 100000\r\n"
                   b"Connection: keep-alive\r\n\r\n", b" "),
    "chunked": (b"HTTP/1.1 200 OK\r\n" + JSON + b"Transfer-Encoding: chunked\r\n\r\n",
                b"1\r\n \r\n"),
}


class DripServer:
    """A server on 127.0.0.1 that answers the n-th request with ``answers(n)``.

    With ``tls`` it speaks TLS; with ``drip_handshake`` its side of the TLS handshake
    comes one byte at a time. ``requests`` lists the request lines, ``connections``
    counts the accepted connections.
    """

    def __init__(self, answers: Callable[[int], Answer], *, tls: ssl.SSLContext | None = None,
                 drip_handshake: bool = False) -> None:
        self.answers = answers
        self.tls = tls
        self.drip_handshake = drip_handshake
        self.requests: list[str] = []
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket, data: bytes) -> bool:
        """Write ``data`` one byte per INTERVAL; False once stopped or hung up."""
        for i in range(len(data)):
            if self._stop.wait(INTERVAL):
                return False
            conn.sendall(data[i:i + 1])
        return True

    def _handle(self, raw: socket.socket) -> None:
        conn: Any = raw
        try:
            if self.tls is not None and self.drip_handshake:
                inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = self.tls.wrap_bio(inc, out, server_side=True)
                inc.write(raw.recv(65536))  # the ClientHello
                with contextlib.suppress(ssl.SSLWantReadError):  # the client's turn next
                    obj.do_handshake()
                self._drip(raw, out.read())  # ServerHello, certificate …, byte by byte
                return
            if self.tls is not None:
                conn = self.tls.wrap_socket(raw, server_side=True)
            f = conn.makefile("rb")
            while not self._stop.is_set():
                line = f.readline()
                if not line:
                    return
                length = 0
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                f.read(length)
                n = len(self.requests)
                self.requests.append(line.decode("latin-1").strip())
                a = self.answers(n)
                if a.drip_head:
                    if not self._drip(conn, a.head):
                        return
                else:
                    conn.sendall(a.head)
                if a.piece is None:
                    conn.sendall(a.body)
                    if b"close" in a.head.lower() or a.head.startswith(b"HTTP/1.0"):
                        return
                    continue
                while not self._stop.wait(INTERVAL):
                    conn.sendall(a.piece)
                return
        except (OSError, ValueError):
            return
        finally:
            conn.close()  # the TLS socket took the descriptor over from raw
            raw.close()


def good(body: bytes) -> Answer:
    return Answer(b"HTTP/1.1 200 OK\r\n" + JSON + f"Content-Length: {len(body)}\r\n"
                  "Connection: keep-alive\r\n\r\n".encode(), body)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now with the openssl command."""
    exe = shutil.which("openssl")
    if exe is None:
        if os.environ.get("STRUKTURBILD_REQUIRE_GIS_TOOLS"):
            pytest.fail("the openssl command is needed for the TLS deadline tests")
        pytest.skip("the openssl command is needed for the TLS deadline tests")
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """The server's TLS context; the client trusts its certificate (REQUESTS_CA_BUNDLE)."""
    cert, key = tls_files
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    return ctx


# --------------------------------------------------------------------------- the run


def _run(kind: str, what: str, base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
         *extra: str) -> tuple[str, float]:
    """``fetch scb`` against ``base`` with --timeout TIMEOUT: exit 2, in time, no files."""
    out = tmp_path / "out"
    capsys.readouterr()
    t0 = time.monotonic()
    code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q",
                 "--api-url", f"{base}/api/v2", "--wfs-url", f"{base}/wfs",
                 "--cache", str(tmp_path / "cache"), "--timeout", f"{TIMEOUT:g}", *extra])
    dt = time.monotonic() - t0
    err = capsys.readouterr().err
    first = err.strip().splitlines()[0] if err.strip() else ""
    _REPORT.append((kind, what, code, first.replace("|", "\\|"), dt))
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert f"deadline of {TIMEOUT:g} s (--timeout)" in err, err
    assert TIMEOUT - 0.05 <= dt < TIMEOUT + SLACK, f"took {dt:.2f} s: {err}"
    assert not out.exists()
    return err, dt


@pytest.mark.parametrize("drip_head", [False, True], ids=["body-drips", "headers-drip"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_dripping_http_server_stops_at_the_deadline(
        kind: str, drip_head: bool, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    head, piece = KINDS[kind]
    server = DripServer(lambda n: Answer(head, piece=piece, drip_head=drip_head))
    try:
        what = "headers 1 byte" if drip_head else "headers at once, body 1 piece"
        err, _ = _run(kind, f"{what} / {INTERVAL:g} s", server.base, tmp_path, capsys)
    finally:
        server.stop()
    assert f"{server.base}/api/v2/config" in err
    stage = "waiting for the answer" if drip_head else "reading the answer"
    assert f"cut off while {stage}" in err
    assert len(server.requests) == 1  # the deadline is not retried


@pytest.mark.parametrize("drip_head", [False, True], ids=["body-drips", "headers-drip"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_dripping_tls_server_stops_at_the_deadline(
        kind: str, drip_head: bool, tls: ssl.SSLContext, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    head, piece = KINDS[kind]
    server = DripServer(lambda n: Answer(head, piece=piece, drip_head=drip_head), tls=tls)
    try:
        what = "TLS; headers 1 byte" if drip_head else "TLS; headers at once, body 1 piece"
        err, _ = _run(f"TLS {kind}", f"{what} / {INTERVAL:g} s", server.base, tmp_path,
                      capsys)
    finally:
        server.stop()
    assert f"{server.base}/api/v2/config" in err
    assert len(server.requests) == 1


def test_dripping_tls_handshake_stops_at_the_deadline(
        tls: ssl.SSLContext, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = DripServer(lambda n: good(CONFIG), tls=tls, drip_handshake=True)
    try:
        err, _ = _run("TLS handshake", f"its side of the handshake 1 byte / {INTERVAL:g} s",
                      server.base, tmp_path, capsys)
    finally:
        server.stop()
    assert f"{server.base}/api/v2/config" in err
    assert "TLS handshake" in err and server.requests == []


def test_a_trusted_tls_server_answers(tls: ssl.SSLContext, tmp_path: Path) -> None:
    # the other side of the TLS cases: the same server, answering at once, is read
    from strukturbild.sources.scb.httpclient import HttpFetcher

    server = DripServer(lambda n: good(CONFIG), tls=tls)
    try:
        with HttpFetcher(timeout=TIMEOUT, max_retries=0) as f:
            assert f.get_json(f"{server.base}/api/v2/config")["maxDataCells"] == 150000
    finally:
        server.stop()


def test_reused_keep_alive_connection_that_drips_stops_at_the_deadline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /config answers at once on a kept-alive connection; the next request, sent on
    # the same connection from the pool, gets headers and then a dripping body
    head, piece = KINDS["keep-alive"]
    server = DripServer(lambda n: good(CONFIG) if n == 0 else Answer(head, piece=piece))
    try:
        err, _ = _run("keep-alive, reused", f"1st answer whole, 2nd on the same connection "
                      f"drips 1 byte / {INTERVAL:g} s", server.base, tmp_path, capsys)
    finally:
        server.stop()
    assert "/api/v2/tables/TAB1830/metadata" in err
    assert len(server.requests) == 2 and server.connections == 1


def test_slow_name_lookup_stops_at_the_deadline(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # getaddrinfo has no timeout: a resolver that never answers must not hold the run
    release = threading.Event()
    real = socket.getaddrinfo

    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.invalid":
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    try:
        err, _ = _run("slow DNS", "getaddrinfo never answers", "http://slow-dns.invalid:9",
                      tmp_path, capsys)
    finally:
        release.set()
    assert "http://slow-dns.invalid:9/api/v2/config" in err
    assert "looking up the name slow-dns.invalid" in err


# --------------------------------------------------------------------------- pieces


def test_resolve_gives_up_when_the_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: release.wait(60))
    t0 = time.monotonic()
    with pytest.raises(DeadlineError, match="looking up the name example.org"):
        resolve("example.org", 443, socket.AF_UNSPEC, 0.3)
    assert time.monotonic() - t0 < 1.0
    release.set()


def test_resolve_passes_lookup_errors_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a: Any, **k: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(socket.gaierror, match="not known"):
        resolve("nowhere.invalid", 80, socket.AF_UNSPEC, 5.0)


def test_watchdog_reaches_a_socket_its_owner_has_dropped() -> None:
    # http.client drops conn.sock for a will_close answer while the response still
    # reads from the same connection: the watchdog's duplicate must still end the read
    a, b = socket.socketpair()
    reader = a.makefile("rb")  # the response's file keeps the connection open …
    t0 = time.monotonic()
    with Watchdog(0.3) as dog:
        dog.adopt(a)
        a.close()  # … after its owner "closed" it, as http.client does
        assert reader.read(1) == b""  # EOF at the deadline, not a hang
    assert dog.expired and 0.25 < time.monotonic() - t0 < 1.0
    reader.close()
    b.close()


def test_watchdog_after_its_request_leaves_sockets_alone() -> None:
    a, b = socket.socketpair()
    with Watchdog(0.1) as dog:
        dog.adopt(a)
    time.sleep(0.2)  # past the deadline, after the request ended: nothing is shut down
    b.sendall(b"x")
    assert a.recv(1) == b"x"
    dog.adopt(a)  # a request that has ended takes no new sockets
    a.close()
    b.close()


def test_the_watchdog_is_per_thread() -> None:
    seen: list[object] = []
    with Watchdog(5) as dog:
        t = threading.Thread(target=lambda: seen.append(deadline.current()))
        t.start()
        t.join()
        assert deadline.current() is dog
    assert seen == [None] and deadline.current() is None


# --------------------------------------------------------------------------- Ctrl-C


_SLOW_DNS = """
import socket, sys, threading
real = socket.getaddrinfo
def slow(host, *a, **k):
    if host == "slow-dns.invalid":
        print("test: the name lookup hangs", file=sys.stderr, flush=True)
        threading.Event().wait(600)
    return real(host, *a, **k)
socket.getaddrinfo = slow
from strukturbild.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("case", ["dripping body", "slow DNS"])
def test_ctrl_c_stops_a_fetch_at_once(case: str, tmp_path: Path) -> None:
    import signal
    import sys

    head, piece = KINDS["HTTP/1.0"]
    server = DripServer(lambda n: Answer(head, piece=piece))
    base = server.base if case == "dripping body" else "http://slow-dns.invalid:9"
    env = {**os.environ, "NO_PROXY": "*", "STRUKTURBILD_CACHE_DIR": str(tmp_path / "c")}
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(var, None)
    out = tmp_path / "out"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_DNS, "fetch", "scb", "--lan", "12", "--out", str(out),
             "-q", "--api-url", f"{base}/api/v2", "--wfs-url", f"{base}/wfs",
             "--timeout", "600"], env=env, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        if case == "slow DNS":  # wait until the request is under way
            assert proc.stderr.readline().startswith("test: the name lookup hangs")
        else:
            end = time.monotonic() + 60
            while not server.requests and time.monotonic() < end and proc.poll() is None:
                time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None and (case != "dripping body" or server.requests)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        first = proc.stderr.readline()  # the message: the run has stopped
        dt = time.monotonic() - t0
        _, rest = proc.communicate(timeout=10)
        exited = time.monotonic() - t0
    finally:
        server.stop()
    err = first + rest
    _REPORT.append((f"SIGINT, {case}", "Ctrl-C 0.5 s into the request, --timeout 600",
                    proc.returncode, first.strip(), dt))
    assert proc.returncode == 130, err
    assert first.strip() == "strukturbild: interrupted; no output changed", err
    assert "Traceback" not in err
    assert dt < 1.0 and exited < 3.0, (dt, exited)
    assert not out.exists()
