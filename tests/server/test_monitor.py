"""The monitor port: /metrics agrees with ``status``, ``prioritystatus`` and ``workers`` on the
same server, counts every job's end with its reason, and /healthz follows the queue's store."""

from __future__ import annotations

import gzip
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gearmand_py.core.engine import EngineOptions
from gearmand_py.core.stats import CountingEngine
from gearmand_py.server.monitor import Monitor
from tests.queue_backends.kv import RedisServer
from tests.server.test_process import THREADS, read_packet, request
from tests.support.servers import ServerProcess, free_port, start_server

CAN_DO, CAN_DO_TIMEOUT, GRAB_JOB = 1, 23, 9
SUBMIT_JOB, SUBMIT_JOB_BG, SUBMIT_JOB_HIGH_BG = 7, 18, 32
WORK_COMPLETE, WORK_FAIL, WORK_EXCEPTION = 13, 14, 25
JOB_CREATED, JOB_ASSIGN, NO_JOB = 8, 11, 10
ECHO_REQ, ECHO_RES = 16, 17


class Monitored:
    def __init__(self, args: list[str]) -> None:
        self.monitor_port = free_port()
        self.server = start_server("gearmand-py", [*args, "--monitor-port",
                                                   str(self.monitor_port)])

    def get(self, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        url = f"http://127.0.0.1:{self.monitor_port}{path}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                        timeout=10) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, headers, body = self.get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        return samples(body)

    def admin(self, line: str) -> list[list[str]]:
        with socket.create_connection(self.server.address, timeout=5) as sock:
            sock.sendall(line.encode() + b"\n")
            text = b""
            while not text.endswith(b".\n"):
                chunk = sock.recv(65536)
                assert chunk
                text += chunk
        return [row.split("\t") for row in text.decode().splitlines()[:-1]]


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A /metrics text's samples, parsed by prometheus_client, by name and labels."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples}


@pytest.fixture(params=THREADS)
def monitored(request: pytest.FixtureRequest) -> Iterator[Monitored]:
    m = Monitored([*request.param, "-j", "2"])
    yield m
    m.server.stop()


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(server.address, timeout=5)


def submit(sock: socket.socket, ptype: int, function: bytes, data: bytes = b"x") -> bytes:
    sock.sendall(request(ptype, function, b"", data))
    kind, handle = read_packet(sock)
    assert kind == JOB_CREATED
    return handle


def grab(worker: socket.socket) -> bytes:
    worker.sendall(request(GRAB_JOB))
    kind, body = read_packet(worker)
    assert kind == JOB_ASSIGN, (kind, body)
    return body.split(b"\0")[0]


def assert_gauges_agree(m: Monitored) -> dict:
    """Every function's gauges equal ``status``/``prioritystatus``; workers equal ``workers``."""
    metrics = m.metrics()
    status = m.admin("status")
    assert status, "no functions"
    for name, total, running, workers in status:
        fn = (("function", name),)
        assert metrics[("gearman_jobs", fn)] == int(total)
        assert metrics[("gearman_jobs_running", fn)] == int(running)
        assert metrics[("gearman_jobs_waiting", fn)] == int(total) - int(running)
        assert metrics[("gearman_workers", fn)] == int(workers)
    for name, high, normal, low, _workers in m.admin("prioritystatus"):
        for priority, count in (("high", high), ("normal", normal), ("low", low)):
            queued = metrics[("gearman_jobs_queued", (("function", name),
                                                      ("priority", priority)))]
            scheduled = metrics[("gearman_epoch_jobs_pending", ())] if priority == "normal" \
                else 0
            assert queued + scheduled == int(count)
    listed = [row[0] for row in m.admin("workers")]
    with_functions = sum(1 for row in listed if not row.endswith(":"))
    assert metrics[("gearman_connections", (("kind", "worker"),))] == with_functions
    assert metrics[("gearman_up", ())] == 1
    return metrics


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def counter(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_gauges_and_counters_follow_every_way_a_job_can_end(monitored: Monitored) -> None:
    m, server = monitored, monitored.server
    with connect(server) as client, connect(server) as worker, connect(server) as admin:
        worker.sendall(request(CAN_DO, b"mon_f"))
        handles = [submit(client, SUBMIT_JOB_BG, b"mon_f", b"%d" % i) for i in range(5)]
        submit(client, SUBMIT_JOB_HIGH_BG, b"mon_idle")
        submit(client, SUBMIT_JOB_BG, b"mon_idle")
        running = grab(worker)
        metrics = assert_gauges_agree(m)
        assert counter(metrics, "gearman_oldest_job_age_seconds", function="mon_idle") >= 0
        worker.sendall(request(WORK_COMPLETE, running, b"done"))
        worker.sendall(request(WORK_FAIL, grab(worker)))
        worker.sendall(request(WORK_EXCEPTION, grab(worker), b"boom"))
        admin.sendall(b"cancel job " + handles[3] + b"\n")
        assert admin.recv(100) == b"OK\r\n"
        held = grab(worker)  # the 5th: the cancelled 4th is skipped when a worker reaches it
        assert held == handles[4]
        metrics = assert_gauges_agree(m)
    # The worker left holding the 5th job (-j 2: requeued once); a second worker dies with it.
    wait_for(lambda: ["mon_f", "1", "0", "0"] in m.admin("status"))
    with connect(server) as worker2:
        worker2.sendall(request(CAN_DO, b"mon_f"))
        assert grab(worker2) == handles[4]
    wait_for(lambda: ["mon_f", "0", "0", "0"] in m.admin("status"))
    with connect(server) as timed, connect(server) as client:
        timed.sendall(request(CAN_DO_TIMEOUT, b"mon_t", b"1000"))
        submit(client, SUBMIT_JOB_BG, b"mon_t")
        grab(timed)
        client.sendall(request(SUBMIT_JOB, b"mon_a", b"", b"left"))
        assert read_packet(client)[0] == JOB_CREATED
        time.sleep(1.5)  # the CAN_DO_TIMEOUT fires
    # The client's hang-up reaches the core from its own I/O thread at -t 4: wait for it.
    wait_for(lambda: m.metrics()[("gearman_connections", (("kind", "client"),))] == 0)
    with connect(server) as late:
        late.sendall(request(CAN_DO, b"mon_a"))
        late.sendall(request(GRAB_JOB))
        assert read_packet(late)[0] == NO_JOB  # its only client left: dropped
        metrics = assert_gauges_agree(m)
    assert counter(metrics, "gearman_jobs_completed_total", function="mon_f") == 1
    for reason in ("fail", "exception", "cancelled", "retries"):
        assert counter(metrics, "gearman_jobs_failed_total", function="mon_f",
                       reason=reason) == 1, reason
    assert counter(metrics, "gearman_jobs_failed_total", function="mon_t", reason="timeout") == 1
    assert counter(metrics, "gearman_jobs_failed_total", function="mon_a",
                   reason="abandoned") == 1
    assert counter(metrics, "gearman_jobs_submitted_total", function="mon_f", priority="normal",
                   background="true") == 5
    assert counter(metrics, "gearman_jobs_submitted_total", function="mon_idle",
                   priority="high", background="true") == 1
    # Every job submitted is finished or still in the tables; a job that ends in a worker's
    # hands is in the run histogram, every assignment in the wait histogram.
    submitted = sum(v for (n, _), v in metrics.items() if n == "gearman_jobs_submitted_total")
    ended = sum(v for (n, _), v in metrics.items()
                if n in ("gearman_jobs_completed_total", "gearman_jobs_failed_total"))
    held = sum(v for (n, _), v in metrics.items() if n == "gearman_jobs")
    assert submitted == ended + held == 9
    assert counter(metrics, "gearman_job_run_seconds_count", function="mon_f") == 3
    assert counter(metrics, "gearman_job_wait_seconds_count", function="mon_f") == 5
    assert counter(metrics, "gearman_job_run_seconds_count", function="mon_t") == 1


def test_api_status_pages_jobs_and_names_its_fields(monitored: Monitored) -> None:
    m = monitored
    with connect(m.server) as client:
        for i in range(30):
            submit(client, SUBMIT_JOB_BG, b"mon_page", b"%d" % i)
        status, headers, body = m.get("/api/status?jobs_offset=25")
        assert status == 200 and headers["Content-Type"] == "application/json"
        data = json.loads(body)
        assert set(data) >= {"time", "version", "functions", "workers", "jobs", "connections",
                             "submitted", "ended", "wait", "run", "store", "scheduled"}
        assert (data["jobs"]["total"], data["jobs"]["offset"], len(data["jobs"]["rows"])) == \
            (30, 25, 5)
        assert data["jobs"]["rows"][0]["state"] == "queued"
        assert set(data["jobs"]["rows"][0]) == {
            "handle", "function", "unique", "priority", "background", "state", "seconds",
            "numerator", "denominator", "clients", "cancelled", "abandoned"}
        assert len(json.loads(m.get("/api/status")[2])["jobs"]["rows"]) == 25
        assert m.get("/api/status?jobs_offset=x")[0] == 400
        status, headers, body = m.get("/api/status", {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip"


def per_function(metrics: dict) -> dict:
    """The samples with a function label, but the oldest job's age (which the clock moves)."""
    return {k: v for k, v in metrics.items()
            if "function" in dict(k[1]) and k[0] != "gearman_oldest_job_age_seconds"}


def test_metrics_show_a_changed_function_anew_and_the_others_as_they_were(
        monitored: Monitored) -> None:
    """/metrics keeps each function's lines between scrapes: they must change when its
    counts do, and only then (functions that come and go: tests/server/test_exposition.py)."""
    m = monitored
    with connect(m.server) as client, connect(m.server) as worker:
        submit(client, SUBMIT_JOB_BG, b"mon_still")
        worker.sendall(request(CAN_DO, b"mon_moving"))
        submit(client, SUBMIT_JOB_BG, b"mon_moving")
        first = assert_gauges_agree(m)
        age = counter(first, "gearman_oldest_job_age_seconds", function="mon_still")
        time.sleep(0.2)
        again = assert_gauges_agree(m)
        assert per_function(again) == per_function(first)  # nothing moved but the clock
        status, headers, body = m.get("/metrics", {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip"
        assert per_function(samples(gzip.decompress(body))) == per_function(first)
        assert counter(again, "gearman_oldest_job_age_seconds", function="mon_still") > age
        worker.sendall(request(WORK_COMPLETE, grab(worker), b"done"))
        wait_for(lambda: ["mon_moving", "0", "0", "1"] in m.admin("status"))
        done = assert_gauges_agree(m)
        assert counter(done, "gearman_jobs_completed_total", function="mon_moving") == 1
        assert counter(done, "gearman_job_run_seconds_count", function="mon_moving") == 1
        assert counter(done, "gearman_jobs_waiting", function="mon_moving") == 0
        assert counter(done, "gearman_jobs", function="mon_still") == 1
    wait_for(lambda: counter(m.metrics(), "gearman_workers", function="mon_moving") == 0)
    assert counter(assert_gauges_agree(m), "gearman_jobs_completed_total",
                   function="mon_moving") == 1


def test_api_status_pages_functions_with_totals_over_all() -> None:
    m = Monitored(["-t", "0"])
    try:
        with connect(m.server) as client, connect(m.server) as worker:
            for i in range(130):
                submit(client, SUBMIT_JOB_BG, b"mon_fn%03d" % i)
            worker.sendall(request(CAN_DO, b"mon_fn000"))
            worker.sendall(request(WORK_COMPLETE, grab(worker), b"done"))
            wait_for(lambda: ["mon_fn000", "0", "0", "1"] in m.admin("status"))
            first = json.loads(m.get("/api/status")[2])
            rest = json.loads(m.get("/api/status?functions_offset=100")[2])
        assert (first["functions"]["total"], first["functions"]["offset"],
                len(first["functions"]["rows"])) == (130, 0, 100)
        assert (rest["functions"]["offset"], len(rest["functions"]["rows"])) == (100, 30)
        names = [f["name"] for page in (first, rest) for f in page["functions"]["rows"]]
        assert names == [row[0] for row in m.admin("status")]  # status's order, each once
        assert first["totals"] == rest["totals"] == {"jobs": 129, "running": 0,
                                                     "waiting": 129, "completed": 1}
        # The counters are the page's functions'.
        assert {row["function"] for row in rest["submitted"]} == set(names[100:])
        assert [row for row in first["ended"]] == [
            {"function": "mon_fn000", "reason": "completed", "count": 1}]
        assert set(first["run"]) == {"mon_fn000"} and rest["run"] == {}
        past = json.loads(m.get("/api/status?functions_offset=500")[2])["functions"]
        assert (past["offset"], past["rows"]) == (130, [])
    finally:
        m.server.stop()


def test_a_job_cancelled_and_one_abandoned_are_told_apart(monitored: Monitored) -> None:
    m = monitored
    with connect(m.server) as client:
        client.sendall(request(SUBMIT_JOB, b"mon_left", b"", b"x"))
        assert read_packet(client)[0] == JOB_CREATED
    with connect(m.server) as client:
        handle = submit(client, SUBMIT_JOB_BG, b"mon_cancel")
        with connect(m.server) as admin:
            admin.sendall(b"cancel job " + handle + b"\n")
            assert admin.recv(100) == b"OK\r\n"

    def flags() -> dict[str, tuple[bool, bool]]:
        rows = json.loads(m.get("/api/status")[2])["jobs"]["rows"]
        return {row["function"]: (row["cancelled"], row["abandoned"]) for row in rows}

    wait_for(lambda: flags() == {"mon_left": (False, True), "mon_cancel": (True, False)})


def test_byte_counters_count_what_the_gear_port_reads_and_writes(monitored: Monitored) -> None:
    m = monitored

    def moved() -> tuple[float, float]:
        metrics = m.metrics()
        return (counter(metrics, "gearman_bytes_received_total") - received,
                counter(metrics, "gearman_bytes_sent_total") - sent)

    before = m.metrics()
    received = counter(before, "gearman_bytes_received_total")
    sent = counter(before, "gearman_bytes_sent_total")
    with connect(m.server) as client:
        echo = request(ECHO_REQ, b"y" * 1000)
        client.sendall(echo)
        assert read_packet(client) == (ECHO_RES, b"y" * 1000)
        client.sendall(b"version\n")
        line = b""
        while not line.endswith(b"\n"):
            line += client.recv(100)
        expected = (len(echo) + len(b"version\n"), len(echo) + len(line))
        wait_for(lambda: moved() == expected)  # the kernel counts what the client acknowledged
    time.sleep(0.3)  # the server lets go of the connection: its counts stay in the totals
    assert moved() == expected


def test_bad_requests_get_errors_and_the_job_server_goes_on() -> None:
    m = Monitored(["-t", "0"])
    try:
        assert m.get("/nowhere")[0] == 404
        for raw in (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                    b"\x16\x03\x01garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n"):
            with socket.create_connection(("127.0.0.1", m.monitor_port), timeout=5) as sock:
                sock.sendall(raw)
                assert sock.recv(100).split(b" ")[1] in (b"400", b"414", b"501")
        idle = [socket.create_connection(("127.0.0.1", m.monitor_port)) for _ in range(8)]
        try:
            time.sleep(0.3)
            assert m.get("/healthz")[0] == 503  # every request slot held by a silent client
            with connect(m.server) as client:
                submit(client, SUBMIT_JOB_BG, b"mon_still")  # the job server does not care
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.3)
        assert m.get("/healthz") == (200, m.get("/healthz")[1], b"ok\n")
    finally:
        m.server.stop()


def test_healthz_follows_the_queue_store(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    m = Monitored(["-t", "0", "-q", "redis", "--redis-server", "127.0.0.1", "--redis-port",
                   str(redis.port), "--redis-prefix", "mon_health"])
    try:
        assert m.get("/healthz")[0] == 200
        assert m.metrics()[("gearman_queue_reachable", ())] == 1
        redis.kill()
        deadline = time.monotonic() + 10
        while m.get("/healthz")[0] != 503:
            assert time.monotonic() < deadline, "healthz never said the store is down"
            time.sleep(0.2)
        status, _headers, body = m.get("/healthz")
        assert b"unreachable" in body
        assert m.metrics()[("gearman_queue_reachable", ())] == 0
        redis.start()
        while m.get("/healthz")[0] != 200:
            assert time.monotonic() < deadline + 10, "healthz never saw the store come back"
            time.sleep(0.2)
        with connect(m.server) as client:
            submit(client, SUBMIT_JOB_BG, b"mon_durable")
        metrics = m.metrics()
        assert metrics[("gearman_queue_commits_total", ())] >= 1
    finally:
        m.server.stop()
        redis.kill()


def test_a_long_function_name_gets_a_label_of_its_own() -> None:
    m = Monitored(["-t", "0"])
    try:
        names = [b"n" * 300 + b"1", b"n" * 300 + b"2"]
        with connect(m.server) as client:
            for name in names:
                submit(client, SUBMIT_JOB_BG, name)
        labels = {dict(key[1])["function"] for key in m.metrics() if key[0] == "gearman_jobs"}
        assert len(labels) == 2 and all(len(label) < 220 for label in labels)
    finally:
        m.server.stop()


def test_with_ssl_the_monitor_speaks_https(tmp_path: Path) -> None:
    import ssl

    from tests.server.test_tls import client_context, tls_args
    from tests.support.certs import make_certs

    certs = make_certs(tmp_path)
    port = free_port()
    server = start_server("gearmand-py", ["-t", "0", *tls_args(certs), "--monitor-port",
                                          str(port)], tls=client_context(certs))
    try:
        context = ssl.create_default_context(cafile=str(certs.ca))
        for _ in range(12):  # more than the request slots: each is given back
            with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context,
                                        timeout=10) as reply:
                assert (reply.status, reply.read()) == (200, b"ok\n")
        with urllib.request.urlopen(f"https://localhost:{port}/metrics", context=context,
                                    timeout=10) as reply:
            metrics = {sample.name: sample.value for family in
                       text_string_to_metric_families(reply.read().decode())
                       for sample in family.samples}
        # start_server's probe made a TLS connection: its handshake is on the wire, counted.
        assert metrics["gearman_bytes_received_total"] > 200
        assert metrics["gearman_bytes_sent_total"] > 1000  # the server's certificate
        with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
            plain.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = plain.recv(100)
            except ConnectionResetError:
                answer = b""
            assert not answer.startswith(b"HTTP/")  # no plaintext service
    finally:
        server.stop()


def test_a_scrape_whose_tables_never_came_is_followed_by_one_of_every_function() -> None:
    """/metrics after the first copies only the functions that changed; when a scrape's copy
    was made but never reached the monitor (it timed out), what it held is not lost."""
    engine = CountingEngine(EngineOptions(job_handle_prefix=b"H:test"))
    late = [False]

    def ask(take: Callable[[CountingEngine], object]) -> object:
        tables = take(engine)
        return None if late[0] else tables

    sock = socket.create_server(("127.0.0.1", 0))
    monitor = Monitor(sock, ask, "test", None)
    try:
        def functions() -> set[str]:
            text = b"".join(monitor.metrics()).decode()
            return {sample.labels["function"] for family in text_string_to_metric_families(text)
                    for sample in family.samples if sample.name == "gearman_jobs"}

        engine.function(b"first")
        assert functions() == {"first"}
        engine.function(b"second")
        late[0] = True
        monitor.metrics()  # took the change to "second", and lost it
        late[0] = False
        assert functions() == {"first", "second"}
        engine.function(b"third")
        assert functions() == {"first", "second", "third"}
    finally:
        sock.close()


def test_functions_forgotten_past_the_bound_between_scrapes_are_gone_from_metrics() -> None:
    """A server nobody scrapes keeps at most MAX_FORGOTTEN names for the next copy of only
    what changed; past that, the next copy is of every function."""
    engine = CountingEngine(EngineOptions(job_handle_prefix=b"H:test"))
    engine.max_forgotten = 3
    sock = socket.create_server(("127.0.0.1", 0))
    monitor = Monitor(sock, lambda take: take(engine), "test", None)
    try:
        def functions() -> set[str]:
            text = b"".join(monitor.metrics()).decode()
            return {sample.labels["function"] for family in text_string_to_metric_families(text)
                    for sample in family.samples if sample.name == "gearman_jobs"}

        for name in (b"a", b"b", b"c", b"d", b"e"):
            engine.function(name)
        assert functions() == {"a", "b", "c", "d", "e"}
        for name in (b"a", b"b", b"c", b"d"):
            engine.functions.forget(engine.functions[name])
        assert len(engine.forgotten) < 3
        assert functions() == {"e"}
    finally:
        sock.close()
