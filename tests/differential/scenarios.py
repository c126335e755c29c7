"""Differential scenarios: each drives one fresh server through a few steps and records replies.

Rules that keep them deterministic on a threaded server:
- a step that involves a second connection waits for the reply it depends on first;
- a packet that gets no reply (CAN_DO, PRE_SLEEP, WORK_STATUS, ...) is followed by
  ``s.barrier(conn)`` (an ECHO round trip on the same connection; the server handles one
  connection's packets in order) before another connection relies on its effect;
- "nothing arrives" is watched for 0.25 s;
- cross-function priority is left out on purpose (gearmand-py makes priority global).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .harness import REPLY_TIMEOUT, SETTLE, Session, with_args
from tests.support.wire import RES, ConnectionClosed, field_count

SUBMIT_TYPES = ["SUBMIT_JOB", "SUBMIT_JOB_HIGH", "SUBMIT_JOB_LOW",
                "SUBMIT_JOB_BG", "SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_LOW_BG"]
NO_HANDLE = "H:nosuch:1"
ALL: list[Callable[[Session], None]] = []


def scenario(fn: Callable[[Session], None]) -> Callable[[Session], None]:
    ALL.append(fn)
    return fn


def running(reply: Any) -> bytes | None:
    """The RUNNING field of a recorded STATUS_RES, or None."""
    if isinstance(reply, tuple) and len(reply) == 3 and reply[1] == "STATUS_RES" and len(reply[2]) == 5:
        return reply[2][2]
    return None


def worker(s: Session, name: str, *functions: str) -> None:
    """Register ``functions`` on ``name`` and wait until the server has processed them."""
    for f in functions:
        s.send(name, "CAN_DO", f)
    s.barrier(name)


# --- ECHO ----------------------------------------------------------------------------------------

@scenario
def echo_req_binary_and_empty(s: Session) -> None:
    """ECHO_RES returns the data byte for byte, NULs included; empty data is allowed."""
    s.request("c", "ECHO_REQ", b"hello\0world")
    s.request("c", "ECHO_REQ", b"")
    s.request("c", "ECHO_REQ", b"\0\0\r\n" + bytes(range(256)))


# --- SUBMIT / JOB_CREATED --------------------------------------------------------------------------

@scenario
def submit_every_priority_gets_job_created(s: Session) -> None:
    """All six SUBMIT_JOB* variants answer JOB_CREATED with consecutive handles."""
    for t in SUBMIT_TYPES:
        s.submit("c", t, "fn", "", f"data-{t}")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")


@scenario
def unique_same_function_coalesces(s: Session) -> None:
    """Same (function, unique) → same handle; the later data and priority are ignored."""
    s.submit("c1", "SUBMIT_JOB_LOW_BG", "fn", "u1", "original")
    s.submit("c1", "SUBMIT_JOB_BG", "fn", "u1", "other")
    s.submit("c2", "SUBMIT_JOB_HIGH_BG", "fn", "u1", "other2")
    s.submit("c2", "SUBMIT_JOB_BG", "fn", "u2", "second")
    s.admin_list("admin", "status")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_UNIQ")   # u2 (NORMAL) first: the HIGH resubmit did not promote u1
    s.request("w", "GRAB_JOB_UNIQ")   # u1 with its original data
    s.request("w", "GRAB_JOB_UNIQ")


@scenario
def unique_is_scoped_by_function(s: Session) -> None:
    """The same unique under another function is a different job."""
    s.submit("c", "SUBMIT_JOB_BG", "fn1", "u1", "a")
    s.submit("c", "SUBMIT_JOB_BG", "fn2", "u1", "b")
    s.submit("c", "SUBMIT_JOB_BG", "fn1", "u1", "c")
    s.submit("c", "SUBMIT_JOB_BG", "fn2", "u1", "d")


@scenario
def empty_unique_never_coalesces(s: Session) -> None:
    """An empty unique creates a new job every time, background or foreground."""
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "same")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "same")
    s.submit("c", "SUBMIT_JOB", "fn", "", "same")
    s.submit("c2", "SUBMIT_JOB", "fn", "", "same")
    worker(s, "w", "fn")
    for _ in range(5):
        s.request("w", "GRAB_JOB_UNIQ")


@scenario
def dash_unique_keys_on_data(s: Session) -> None:
    """Unique ``-`` coalesces on byte-identical data (per function); ``-`` with empty data does
    not coalesce; GET_STATUS_UNIQUE cannot find ``-`` jobs."""
    s.submit("c", "SUBMIT_JOB_BG", "fn", "-", "dash1")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "-", "dash1")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "-", "dash2")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "-", "")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "-", "")
    s.submit("c", "SUBMIT_JOB_BG", "fn2", "-", "dash1")
    s.submit("c2", "SUBMIT_JOB", "fn", "-", "dash2")
    s.request("c", "GET_STATUS_UNIQUE", "-")
    worker(s, "w", "fn")
    for _ in range(5):
        s.request("w", "GRAB_JOB_UNIQ")


@scenario
def foreground_attaches_to_background_job(s: Session) -> None:
    """A foreground submit with a background job's unique attaches to it and gets its results;
    the background submitter hears nothing."""
    h = s.submit("bg", "SUBMIT_JOB_BG", "fn", "u1", "original")
    s.submit("fg", "SUBMIT_JOB", "fn", "u1", "ignored")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_DATA", h, "chunk")
    s.recv("fg", "WORK_DATA relayed")
    s.send("w", "WORK_COMPLETE", h, "result")
    s.recv("fg", "WORK_COMPLETE relayed")
    s.nothing("bg")
    s.nothing("w")
    s.request("bg", "GET_STATUS", h)


@scenario
def foreground_attaches_to_running_job(s: Session) -> None:
    """A foreground submit that coalesces onto a running job receives its later packets; after
    completion the unique makes a fresh job."""
    h = s.submit("c1", "SUBMIT_JOB", "fn", "u1", "d1")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.submit("c2", "SUBMIT_JOB", "fn", "u1", "d2")
    s.request("c3", "GET_STATUS", h)
    s.send("w", "WORK_STATUS", h, "1", "2")
    s.recv("c1", "WORK_STATUS relayed")
    s.recv("c2", "WORK_STATUS relayed")
    s.send("w", "WORK_COMPLETE", h, "done")
    s.recv("c1", "WORK_COMPLETE relayed")
    s.recv("c2", "WORK_COMPLETE relayed")
    s.submit("c3", "SUBMIT_JOB_BG", "fn", "u1", "again")


# --- GET_STATUS / GET_STATUS_UNIQUE ----------------------------------------------------------------

@scenario
def get_status_unknown_handle(s: Session) -> None:
    """GET_STATUS of an unknown handle answers known=0 with zeros, never an error."""
    s.request("c", "GET_STATUS", NO_HANDLE)
    s.request("c", "GET_STATUS", "nonsense")
    s.request("c", "GET_STATUS", "")


@scenario
def get_status_queued_running_and_numbers(s: Session) -> None:
    """GET_STATUS for a queued job (1 0 0 0), a running one (1 1 0 0), after WORK_STATUS (the
    stored numbers), and after completion (0 0 0 0)."""
    h = s.submit("c", "SUBMIT_JOB_BG", "fn", "u1", "x")
    s.request("c", "GET_STATUS", h)
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("c", "GET_STATUS", h)
    s.send("w", "WORK_STATUS", h, "3", "7")
    s.barrier("w")
    s.request("c", "GET_STATUS", h)
    s.send("w", "WORK_STATUS", h, "50", "100")
    s.barrier("w")
    s.request("other", "GET_STATUS", h)
    s.send("w", "WORK_COMPLETE", h, "")
    s.barrier("w")
    s.request("c", "GET_STATUS", h)


@scenario
def work_status_forwarded_verbatim(s: Session) -> None:
    """WORK_STATUS reaches the client byte for byte; GET_STATUS shows the numbers as parsed."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "x")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_STATUS", h, "007", "0100")
    s.recv("c", "WORK_STATUS relayed")
    s.request("other", "GET_STATUS", h)


@scenario
def get_status_unique_background_job(s: Session) -> None:
    """GET_STATUS_UNIQUE for a background job (no foreground clients) through its life, and for
    an unknown unique."""
    h = s.submit("c", "SUBMIT_JOB_BG", "fn", "u1", "x")
    s.request("c", "GET_STATUS_UNIQUE", "u1")
    s.request("c", "GET_STATUS_UNIQUE", "nou")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("c", "GET_STATUS_UNIQUE", "u1")
    s.send("w", "WORK_STATUS", h, "1", "4")
    s.barrier("w")
    s.request("c", "GET_STATUS_UNIQUE", "u1")
    s.send("w", "WORK_COMPLETE", h, "ok")
    s.barrier("w")
    s.request("c", "GET_STATUS_UNIQUE", "u1")


@scenario
def get_status_unique_foreground_job(s: Session) -> None:
    """GET_STATUS_UNIQUE for a job with a foreground client; client_count is left out because
    gearmand always reports 0 there (a bug gearmand-py does not copy)."""
    def without_count(reply: Any) -> Any:
        if isinstance(reply, tuple) and reply[1] == "STATUS_RES_UNIQUE":
            return (reply[0], reply[1], reply[2][:5])
        return reply
    s.submit("c", "SUBMIT_JOB", "fn", "u2", "x")
    s.send("other", "GET_STATUS_UNIQUE", "u2")
    s.recv("other", "GET_STATUS_UNIQUE u2 (no client_count)", transform=without_count)


# --- GRAB_JOB variants -----------------------------------------------------------------------------

@scenario
def grab_with_nothing_to_do_no_job(s: Session) -> None:
    """GRAB_JOB / _UNIQ / _ALL answer NO_JOB without abilities, or with nothing queued, or with
    jobs only for other functions."""
    s.request("w", "GRAB_JOB")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("w", "GRAB_JOB_ALL")
    s.submit("c", "SUBMIT_JOB_BG", "other", "", "x")
    s.request("w", "GRAB_JOB")


@scenario
def grab_job_gets_job_assign(s: Session) -> None:
    """GRAB_JOB → JOB_ASSIGN(handle, function, data)."""
    s.submit("c", "SUBMIT_JOB", "fn", "u1", b"pay\0load")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("w", "GRAB_JOB")


@scenario
def grab_job_uniq_gets_job_assign_uniq(s: Session) -> None:
    """GRAB_JOB_UNIQ → JOB_ASSIGN_UNIQ(handle, function, unique, data), empty unique included."""
    s.submit("c", "SUBMIT_JOB_BG", "fn", "u1", "data1")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "data2")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("w", "GRAB_JOB_UNIQ")


@scenario
def grab_job_all_without_reducer_gets_assign_uniq(s: Session) -> None:
    """GRAB_JOB_ALL for a job without a reducer → JOB_ASSIGN_UNIQ (not JOB_ASSIGN_ALL)."""
    s.submit("c", "SUBMIT_JOB", "fn", "u1", "data")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_ALL")
    s.request("w", "GRAB_JOB_ALL")


@scenario
def grab_job_all_reduce_job_gets_assign_all(s: Session) -> None:
    """SUBMIT_REDUCE_JOB[_BACKGROUND] with 4 NUL args; GRAB_JOB_ALL → JOB_ASSIGN_ALL, other grabs
    hide the reducer."""
    s.request("c", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "ru1", "myreducer", "", "data1")
    s.request("c", "SUBMIT_REDUCE_JOB", "red", "ru2", "r2", "", "data2")
    s.request("c", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "ru3", "r3", "", "data3")
    worker(s, "w", "red")
    s.request("w", "GRAB_JOB_ALL")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("w", "GRAB_JOB")


# --- PRE_SLEEP / NOOP ------------------------------------------------------------------------------

@scenario
def pre_sleep_idle_then_exactly_one_noop(s: Session) -> None:
    """PRE_SLEEP with nothing queued → no reply; a submit → one NOOP; a second submit → no
    second NOOP; after GRAB a PRE_SLEEP with work queued → immediate NOOP."""
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "PRE_SLEEP")
    s.nothing("w")
    s.barrier("w")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "one")
    s.recv("w", "NOOP after first submit")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "two")
    s.nothing("w", "no second NOOP")
    s.request("w", "GRAB_JOB")
    s.request("w", "PRE_SLEEP", label="PRE_SLEEP with work queued")


@scenario
def pre_sleep_with_job_queued_immediate_noop(s: Session) -> None:
    """PRE_SLEEP when a job for one of the worker's functions is already queued → NOOP now."""
    s.submit("c", "SUBMIT_JOB_LOW", "fn", "", "x")
    worker(s, "w", "fn")
    s.request("w", "PRE_SLEEP")
    s.nothing("w")
    s.request("w", "GRAB_JOB")


@scenario
def pre_sleep_before_any_grab(s: Session) -> None:
    """A worker may PRE_SLEEP without ever grabbing; it is woken by the next submit."""
    worker(s, "w", "fn")
    s.send("w", "PRE_SLEEP")
    s.barrier("w")
    s.submit("c", "SUBMIT_JOB", "fn", "u", "x")
    s.recv("w", "NOOP")
    s.request("w", "GRAB_JOB_UNIQ")


@scenario
def all_sleeping_workers_woken(s: Session) -> None:
    """Without -w every sleeping worker of the function gets one NOOP; workers of other
    functions do not; only one of them gets the job."""
    for w in ("w1", "w2", "w3"):
        worker(s, w, "fn")
        s.send(w, "PRE_SLEEP")
        s.barrier(w)
    worker(s, "other", "fn2")
    s.send("other", "PRE_SLEEP")
    s.barrier("other")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "x")
    for w in ("w1", "w2", "w3"):
        s.recv(w, "NOOP")
    s.nothing("other")
    s.request("w1", "GRAB_JOB")
    s.request("w2", "GRAB_JOB")
    s.request("w3", "GRAB_JOB")


@scenario
def noop_rearmed_by_grab_and_busy_worker_not_woken(s: Session) -> None:
    """After NOOP → GRAB (NO_JOB) → PRE_SLEEP the worker is woken again; a worker that grabbed
    and did not PRE_SLEEP is not woken."""
    worker(s, "w1", "fn")
    worker(s, "w2", "fn")
    s.send("w1", "PRE_SLEEP")
    s.barrier("w1")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "one")
    s.recv("w1", "NOOP")
    s.request("w2", "GRAB_JOB")
    s.request("w1", "GRAB_JOB")
    s.send("w1", "PRE_SLEEP")
    s.barrier("w1")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "two")
    s.recv("w1", "NOOP again")
    s.nothing("w2", "busy worker not woken")


# --- priority ------------------------------------------------------------------------------------

@scenario
def priority_order_within_function(s: Session) -> None:
    """Within one function HIGH before NORMAL before LOW, FIFO within each (fg and bg mixed)."""
    s.submit("c", "SUBMIT_JOB_LOW_BG", "fn", "", "low1")
    s.submit("c", "SUBMIT_JOB", "fn", "", "norm1")
    s.submit("c", "SUBMIT_JOB_HIGH_BG", "fn", "", "high1")
    s.submit("c", "SUBMIT_JOB_LOW", "fn", "", "low2")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "norm2")
    s.submit("c", "SUBMIT_JOB_HIGH", "fn", "", "high2")
    worker(s, "w", "fn")
    for _ in range(7):
        s.request("w", "GRAB_JOB")


# --- WORK_* relay ----------------------------------------------------------------------------------

@scenario
def work_packets_relayed_to_all_clients(s: Session) -> None:
    """WORK_DATA / WORK_WARNING / WORK_STATUS / WORK_COMPLETE reach every attached client; the
    job is forgotten after WORK_COMPLETE."""
    h = s.submit("c1", "SUBMIT_JOB", "fn", "u1", "d")
    s.submit("c2", "SUBMIT_JOB_HIGH", "fn", "u1", "d")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    for ptype, *args in (("WORK_DATA", "part1"), ("WORK_WARNING", "warn1"), ("WORK_STATUS", "1", "4"),
                         ("WORK_DATA", ""), ("WORK_DATA", b"bin\0ary"), ("WORK_COMPLETE", "done")):
        s.send("w", ptype, h, *args)
        s.recv("c1", f"{ptype} relayed")
        s.recv("c2", f"{ptype} relayed")
    s.nothing("w")
    s.request("c1", "GET_STATUS", h)


@scenario
def work_fail_relayed_verbatim(s: Session) -> None:
    """WORK_FAIL reaches every attached client with the handle bytes exactly as the worker sent
    them (a trailing NUL included)."""
    h1 = s.submit("c1", "SUBMIT_JOB", "fn", "u1", "d")
    s.submit("c2", "SUBMIT_JOB", "fn", "u1", "d")
    h2 = s.submit("c3", "SUBMIT_JOB", "fn", "u2", "d")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_FAIL", h1)
    s.recv("c1", "WORK_FAIL relayed")
    s.recv("c2", "WORK_FAIL relayed")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_FAIL", h2 + b"\0")
    s.recv("c3", "WORK_FAIL with NUL relayed")
    s.nothing("w")
    s.request("c1", "GET_STATUS", h1)


@scenario
def work_exception_depends_on_client_option(s: Session) -> None:
    """WORK_EXCEPTION: a client with OPTION_REQ exceptions gets WORK_EXCEPTION, one without gets
    WORK_FAIL with payload ``HANDLE\\0``."""
    s.request("c2", "OPTION_REQ", "exceptions")
    h = s.submit("c1", "SUBMIT_JOB", "fn", "u1", "d")
    s.submit("c2", "SUBMIT_JOB", "fn", "u1", "d")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_EXCEPTION", h, "boom")
    s.recv("c1", "without exceptions option")
    s.recv("c2", "with exceptions option")
    s.nothing("w")
    s.request("c1", "GET_STATUS", h)


@scenario
def work_packets_for_unowned_job_error(s: Session) -> None:
    """WORK_* for a job the connection does not own → ERROR JOB_NOT_FOUND with the exact texts
    (unknown handle, a queued job, another worker's job, a completed job)."""
    def all_work_packets(name: str, h: bytes | str) -> None:
        for ptype, *args in (("WORK_DATA", "x"), ("WORK_WARNING", "x"), ("WORK_STATUS", "1", "2"),
                             ("WORK_COMPLETE", "x"), ("WORK_FAIL",), ("WORK_EXCEPTION", "x")):
            s.request(name, ptype, h, *args)

    worker(s, "w1", "fn")
    all_work_packets("w1", NO_HANDLE)
    h1 = s.submit("c", "SUBMIT_JOB", "fn", "", "a")
    h2 = s.submit("c", "SUBMIT_JOB", "fn", "", "b")
    s.request("w1", "GRAB_JOB")
    worker(s, "w2", "fn")
    all_work_packets("w2", h1)          # running on w1
    all_work_packets("w2", h2)          # still queued
    s.nothing("c")
    s.send("w1", "WORK_COMPLETE", h1, "ok")
    s.recv("c", "WORK_COMPLETE from owner")
    all_work_packets("w1", h1)          # already completed


@scenario
def option_req_exceptions_and_unknown(s: Session) -> None:
    """OPTION_REQ ``exceptions`` in any case is echoed back as sent; anything else is
    ERROR UNKNOWN_OPTION."""
    s.request("c", "OPTION_REQ", "exceptions")
    s.request("c", "OPTION_REQ", "EXCEPTIONS")
    s.request("c", "OPTION_REQ", "ExCePtIoNs")
    s.request("c", "OPTION_REQ", "foo")
    s.request("c", "OPTION_REQ", "")
    s.request("c", "ECHO_REQ", "still open")


# --- worker identity and abilities ------------------------------------------------------------------

@scenario
def set_client_id_shown_in_workers(s: Session) -> None:
    """SET_CLIENT_ID (on workers and clients, last one wins) is the ID column of ``workers``;
    functions are listed per connection."""
    s.send("w1", "SET_CLIENT_ID", "worker-1")
    worker(s, "w1", "fn1", "fn2")
    worker(s, "w2", "fn3")
    s.send("c", "SET_CLIENT_ID", "first")
    s.send("c", "SET_CLIENT_ID", "client-a")
    s.barrier("c")
    s.workers("admin")


@scenario
def cant_do_unknown_function_harmless(s: Session) -> None:
    """CANT_DO of a function never registered (or unknown to the server) does nothing."""
    s.send("w", "CANT_DO", "nosuch")
    s.barrier("w")
    s.admin_list("admin", "status")
    worker(s, "w", "fn")
    s.send("w", "CANT_DO", "other")
    s.barrier("w")
    s.submit("c", "SUBMIT_JOB", "fn", "", "x")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "status")


def _requeue_by(s: Session, how: Callable[[], None]) -> None:
    """w1 runs a job, w2 sleeps; ``how`` makes w1 give it up; w2 is woken and gets it."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "x")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.send("w1", "WORK_STATUS", h, "1", "2")
    s.recv("c", "WORK_STATUS relayed")
    worker(s, "w2", "fn")
    s.send("w2", "PRE_SLEEP")
    s.barrier("w2")
    how()
    s.recv("w2", "NOOP on requeue")
    s.request("c2", "GET_STATUS", h)    # numbers were reset
    s.nothing("c", "client not told about the requeue")
    s.request("w2", "GRAB_JOB")
    s.request("w1", "WORK_COMPLETE", h, "late")
    s.request("w1", "GRAB_JOB")
    s.send("w2", "WORK_COMPLETE", h, "done")
    s.recv("c", "WORK_COMPLETE from new owner")


@scenario
def cant_do_running_job_requeues(s: Session) -> None:
    """CANT_DO of the function of a running job requeues it for another worker."""
    _requeue_by(s, lambda: s.send("w1", "CANT_DO", "fn"))


@scenario
def reset_abilities_running_job_requeues(s: Session) -> None:
    """RESET_ABILITIES with a running job requeues it for another worker."""
    _requeue_by(s, lambda: s.send("w1", "RESET_ABILITIES"))


# --- disconnects -----------------------------------------------------------------------------------

@scenario
def worker_disconnect_mid_job_requeues_to_other_worker(s: Session) -> None:
    """A worker that disconnects mid-job: the job is requeued, a sleeping worker is woken and
    gets it, and the client receives its result."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "u1", "x")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    worker(s, "w2", "fn")
    s.send("w2", "PRE_SLEEP")
    s.barrier("w2")
    s.close("w1")
    s.recv("w2", "NOOP on requeue")
    s.request("w2", "GRAB_JOB_UNIQ")
    s.nothing("c")
    s.send("w2", "WORK_COMPLETE", h, "done")
    s.recv("c", "WORK_COMPLETE")


@scenario
def worker_disconnect_requeues_to_tail(s: Session) -> None:
    """A job requeued by a worker disconnect goes to the tail of its priority list."""
    a = s.submit("c", "SUBMIT_JOB", "fn", "", "A")
    s.submit("c", "SUBMIT_JOB", "fn", "", "B")
    s.submit("c", "SUBMIT_JOB_HIGH", "other", "", "unrelated")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.close("w1")
    s.poll("c", "GET_STATUS", a, until=lambda r: running(r) == b"0", label="GET_STATUS until requeued")
    worker(s, "w2", "fn")
    s.request("w2", "GRAB_JOB")
    s.request("w2", "GRAB_JOB")
    s.request("w2", "GRAB_JOB")


@scenario
def foreground_client_disconnect_queued_job_never_assigned(s: Session) -> None:
    """A queued foreground job whose only client disconnected is skipped by GRAB."""
    s.submit("c1", "SUBMIT_JOB", "fn", "", "abandoned")
    s.submit("c2", "SUBMIT_JOB", "fn", "", "wanted")
    s.close("c1", settle=SETTLE)
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "status")


@scenario
def foreground_client_disconnect_only_job_no_job(s: Session) -> None:
    """When the abandoned job is the only one, GRAB answers NO_JOB."""
    s.submit("c1", "SUBMIT_JOB_LOW", "fn", "u1", "abandoned")
    s.close("c1", settle=SETTLE)
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_UNIQ")
    s.send("w", "PRE_SLEEP")
    s.nothing("w", "nothing runnable any more")


@scenario
def foreground_client_disconnect_running_job_results_dropped(s: Session) -> None:
    """A running job whose client disconnected keeps running; the worker's WORK_* are accepted
    without error and the job is forgotten on completion."""
    h = s.submit("c1", "SUBMIT_JOB", "fn", "", "x")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.close("c1", settle=SETTLE)
    s.request("c2", "GET_STATUS", h)
    s.send("w", "WORK_DATA", h, "chunk")
    s.send("w", "WORK_COMPLETE", h, "done")
    s.nothing("w")
    s.request("c2", "GET_STATUS", h)


# --- protocol errors -------------------------------------------------------------------------------

RESPONSE_ONLY_TYPES = [5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42]


@scenario
def response_types_from_client_invalid_command(s: Session) -> None:
    """Response-only and unimplemented types sent to the server → ERROR INVALID_COMMAND
    "Command not expected"; the connection stays open."""
    for t in RESPONSE_ONLY_TYPES:
        s.request("c", t, *[f"a{i}" for i in range(field_count(t))])
    s.request("c", "ECHO_REQ", "still open")
    s.admin_list("admin", "status")


@scenario
def res_magic_on_request_invalid_magic(s: Session) -> None:
    """A valid type with ``\\0RES`` magic → ERROR INVALID_MAGIC and is not executed."""
    s.request("c", "ECHO_REQ", "x", magic=RES)
    s.request("c", "SUBMIT_JOB_BG", "fn", "", "x", magic=RES)
    s.request("c", "GRAB_JOB", magic=RES)
    s.request("c", "NOOP", magic=RES)
    s.request("c", "ECHO_REQ", "still open")
    s.admin_list("admin", "status")


@scenario
def bad_magic_closes_connection(s: Session) -> None:
    """A magic that is neither ``\\0REQ`` nor ``\\0RES`` closes the connection silently."""
    s.send_raw("c", b"\0XYZ" + bytes([0, 0, 0, 16, 0, 0, 0, 1]) + b"x")
    s.closed("c")
    s.send_raw("c2", b"\0REX" + bytes([0, 0, 0, 16, 0, 0, 0, 0]))
    s.closed("c2")


@scenario
def invalid_packet_types_close_connection(s: Session) -> None:
    """Binary type 0, 43 and 1000 close the connection silently."""
    for name, t in (("t0", 0), ("t43", 43), ("t1000", 1000)):
        s.send_raw(name, b"\0REQ" + t.to_bytes(4, "big") + (0).to_bytes(4, "big"))
        s.closed(name)


@scenario
def unique_too_long_argument_too_large(s: Session) -> None:
    """A unique over 64 bytes → ERROR ARGUMENT_TOO_LARGE; 64 is accepted; the connection stays
    open."""
    s.submit("c", "SUBMIT_JOB_BG", "fn", "u" * 64, "x")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "v" * 65, "x")
    s.submit("c", "SUBMIT_JOB", "fn", "w" * 200, "x")
    s.submit("c", "SUBMIT_JOB_HIGH", "fn", "", "x")
    s.admin_list("admin", "status")


# --- admin text protocol ---------------------------------------------------------------------------

@scenario
def admin_status_counts(s: Session) -> None:
    """``status``: TOTAL (queued + running), RUNNING, WORKERS; ``prioritystatus`` queued per
    priority."""
    s.admin_list("admin", "status")
    worker(s, "w1", "fn")
    worker(s, "w2", "fn")
    s.submit("c", "SUBMIT_JOB", "fn", "", "a")
    s.submit("c", "SUBMIT_JOB_LOW_BG", "fn", "", "b")
    s.submit("c", "SUBMIT_JOB_HIGH", "fn", "", "c")
    assigned = s.request("w1", "GRAB_JOB")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")
    s.send("w1", "WORK_COMPLETE", assigned[2][0], "ok")
    s.recv("c", "WORK_COMPLETE")
    s.admin_list("admin", "status")


@scenario
def admin_workers_lists_every_connection(s: Session) -> None:
    """``workers`` lists every connection (clients, the admin connection itself, workers with
    their functions)."""
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "x")
    worker(s, "w", "fa", "fb")
    s.workers("admin")
    s.close("c", settle=SETTLE)
    s.workers("admin")


@scenario
def admin_version(s: Session) -> None:
    """``version`` (extra tokens ignored)."""
    s.version("admin")
    s.version("admin", "version extra tokens")
    s.version("admin", "VERSION")


@scenario
def admin_getpid(s: Session) -> None:
    """``getpid`` answers the server's process id."""
    s.getpid("admin")


@scenario
def admin_verbose(s: Session) -> None:
    """``verbose`` answers the log level (the default, ERROR, here)."""
    s.admin_line("admin", "verbose")


@scenario
def admin_unknown_commands(s: Session) -> None:
    """Unknown commands, an empty line, a leading space and ``show`` forms → the exact ERR
    lines; the connection stays open.  (``shutdown`` is left out: gearmand 1.1.20 removed it,
    gearmand-py deliberately accepts it from loopback.)"""
    for line in ("bogus cmd", "", " status", "  status", "show", "show foo", "a b c d e"):
        s.admin_line("admin", line)
    s.admin_list("admin", "status")


@scenario
def admin_lf_only_and_case_insensitive(s: Session) -> None:
    """``STATUS\\n`` (LF only, upper case) works; trailing spaces are fine."""
    s.admin_list("admin", "STATUS", ending=b"\n")
    s.admin_list("admin", "status  ")
    s.admin_line("admin", "bogus", ending=b"\n")
    s.version("admin")


@scenario
def admin_six_tokens_closes_connection(s: Session) -> None:
    """A text line with 6 tokens closes the connection without a reply."""
    s.admin_line("ok", "a b c d e")
    s.conn("admin").send_line("a b c d e f")
    s.closed("admin")


@scenario
def admin_text_and_binary_mixed(s: Session) -> None:
    """Text lines and binary packets on one connection, also within one send."""
    s.version("m")
    s.request("m", "ECHO_REQ", "bin")
    s.admin_list("m", "status")
    s.submit("m", "SUBMIT_JOB_BG", "fn", "", "x")
    s.admin_list("m", "status")
    s.send_raw("m", b"status\r\n" + b"\0REQ" + (16).to_bytes(4, "big") + (2).to_bytes(4, "big")
               + b"hi" + b"verbose\r\n")
    s.read_list("m", "pipelined status")
    s.recv("m", "pipelined ECHO_RES")
    s.read_line("m", "pipelined verbose")


# --- gearmand options, epoch, reduce, CAN_DO_TIMEOUT, client ids (issue "Every gearmand behaviour") --
# Scenarios marked ``@with_args`` run with those options on both servers.

def pending(s: Session, name: str, label: str = "pending") -> Any:
    """Record every packet the server had queued for ``name`` before an ECHO round trip: the
    server writes one connection's packets in order, so a NOOP sent earlier arrives before the
    echo and "nothing pending" is proved without waiting for a timeout."""
    c = s.conn(name)
    c.send("ECHO_REQ", b"pending")
    got: list[Any] = []
    while True:
        packet = s._receive(c, REPLY_TIMEOUT, label)
        if packet == ("RES", "ECHO_RES", (b"pending",)):
            break
        got.append(packet)
        if not isinstance(packet, tuple) or packet[0] == "<closed>":
            break
    return s.record(name, label, got)


def settled_workers(s: Session, name: str) -> Any:
    """``workers`` once the server lists exactly the scenario's open connections: a connection
    closed earlier (e.g. the start-up probe) may still be listed for a moment on a threaded
    server, as disconnects on different connections are not ordered."""
    c = s.conn(name)
    deadline = time.monotonic() + REPLY_TIMEOUT
    while time.monotonic() < deadline:
        c.send_line("workers")
        if len(c.recv_list()) == len(s.conns) + 1:
            break
        time.sleep(0.01)
    return s.workers(name)


@scenario
@with_args("-j", "2")
def job_retries_drop_after_n_attempts(s: Session) -> None:
    """-j 2: the first worker loss requeues (RETRIES 1 in ``show jobs``, the client hears
    nothing); the second drops both jobs, the foreground client gets WORK_FAIL."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "u1", "fg")
    b = s.submit("c", "SUBMIT_JOB_BG", "fn", "u2", "bg")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.request("w1", "GRAB_JOB")
    s.admin_list("admin", "show jobs")
    s.close("w1")
    s.poll("c2", "GET_STATUS", h, until=lambda r: running(r) == b"0",
           label="GET_STATUS until requeued")
    s.request("c2", "GET_STATUS", b)
    s.admin_list("admin", "show jobs")
    pending(s, "c", "client not told about the first requeue")
    worker(s, "w2", "fn")
    s.request("w2", "GRAB_JOB")
    s.request("w2", "GRAB_JOB")
    s.close("w2")
    s.recv("c", "WORK_FAIL after the second attempt")
    s.request("c2", "GET_STATUS", h)
    s.admin_list("admin", "show jobs")
    s.admin_list("admin", "status")
    worker(s, "w3", "fn")
    s.request("w3", "GRAB_JOB")


@scenario
@with_args("-j", "1")
def job_retries_one_attempt(s: Session) -> None:
    """-j 1: a job whose worker goes away (or CANT_DOes it) is dropped at once."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "fg")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.send("w1", "CANT_DO", "fn")
    s.recv("c", "WORK_FAIL after one attempt")
    s.request("w1", "WORK_COMPLETE", h, "late")
    s.admin_list("admin", "status")


@scenario
@with_args("-w", "1")
def worker_wakeup_one_rotates(s: Session) -> None:
    """-w 1 with three sleeping workers: each job wakes one worker, in rotation; a fourth job
    wakes nobody (all have a NOOP outstanding); after they grab and sleep again the rotation
    goes on from where it stopped."""
    workers = ("w0", "w1", "w2")
    for w in workers:
        worker(s, w, "fn")
        s.send(w, "PRE_SLEEP")
        s.barrier(w)
    for i in range(4):
        s.submit("c", "SUBMIT_JOB_BG", "fn", "", f"job{i}")
        for w in workers:
            pending(s, w, f"after job{i}")
    for w in (*workers, "w0", "w1"):
        s.request(w, "GRAB_JOB")
    for w in workers:
        s.send(w, "PRE_SLEEP")
        s.barrier(w)
    for i in range(4, 7):
        s.submit("c", "SUBMIT_JOB_BG", "fn", "", f"job{i}")
        for w in workers:
            pending(s, w, f"after job{i}")


@scenario
@with_args("-w", "1")
def worker_wakeup_one_rotation_survives_leaving_and_joining_workers(s: Session) -> None:
    """-w 1: the rotation is a circle of workers with a moving head, so a worker leaving from
    behind the head does not shift it (w2 is next after w0 and w1 were woken and w0 left), and
    a worker joining goes just before the head (woken last)."""
    workers = ("w0", "w1", "w2")
    for w in workers:
        worker(s, w, "fn")
        s.send(w, "PRE_SLEEP")
        s.barrier(w)
    for i, w in enumerate(("w0", "w1")):
        s.submit("c", "SUBMIT_JOB_BG", "fn", "", f"job{i}")
        pending(s, w, f"after job{i}")
        h = s.request(w, "GRAB_JOB")[2][0]
        s.send(w, "WORK_COMPLETE", h, "")
        s.send(w, "PRE_SLEEP")
        s.barrier(w)
    s.close("w0")
    settled_workers(s, "admin")
    worker(s, "w3", "fn")
    s.send("w3", "PRE_SLEEP")
    s.barrier("w3")
    for i in range(2, 5):
        s.submit("c", "SUBMIT_JOB_BG", "fn", "", f"job{i}")
        for w in ("w1", "w2", "w3"):
            pending(s, w, f"after job{i}")


@scenario
@with_args("-R")
def round_robin_rotates_functions_within_priority(s: Session) -> None:
    """-R (reference §3.6): a worker doing ra and rb with three jobs each, all NORMAL, gets them
    alternately, newest CAN_DO first: rb0 ra0 rb1 ra1 rb2 ra2."""
    worker(s, "w", "ra", "rb")
    for i in range(3):
        s.submit("c", "SUBMIT_JOB_BG", "ra", "", f"ra{i}")
        s.submit("c", "SUBMIT_JOB_BG", "rb", "", f"rb{i}")
    for _ in range(7):
        s.request("w", "GRAB_JOB")


@scenario
def no_round_robin_drains_newest_function_first(s: Session) -> None:
    """Without -R, within one priority the newest CAN_DO's jobs are all taken first."""
    worker(s, "w", "ra", "rb")
    for i in range(3):
        s.submit("c", "SUBMIT_JOB_BG", "ra", "", f"ra{i}")
        s.submit("c", "SUBMIT_JOB_BG", "rb", "", f"rb{i}")
    for _ in range(7):
        s.request("w", "GRAB_JOB")


@scenario
@with_args("--exceptions")
def exceptions_option_is_the_default(s: Session) -> None:
    """--exceptions: a client that never sent OPTION_REQ gets WORK_EXCEPTION itself."""
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "d")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_EXCEPTION", h, "boom")
    s.recv("c", "WORK_EXCEPTION without OPTION_REQ")
    s.request("c", "OPTION_REQ", "exceptions")
    s.request("c", "OPTION_REQ", "other")


@scenario
@with_args("--job-handle-prefix", "PFX")
def job_handle_prefix_option(s: Session) -> None:
    """--job-handle-prefix P: handles are P:1, P:2, ... everywhere a handle appears."""
    b = s.submit("c", "SUBMIT_JOB_BG", "fn", "u1", "bg")
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "fg")
    s.request("c", "GET_STATUS", h)
    s.admin_list("admin", "show jobs")
    s.admin_line("admin", f"cancel job {b.decode()}")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_UNIQ")
    s.send("w", "WORK_COMPLETE", h, "ok")
    s.recv("c", "WORK_COMPLETE")


@scenario
def submit_job_epoch_past_or_zero_runs_now(s: Session) -> None:
    """SUBMIT_JOB_EPOCH with epoch 0, a past epoch, a negative or a non-numeric one: a
    background NORMAL job that runs now (JOB_CREATED, sleeping workers woken, GRAB gets it);
    the same unique coalesces."""
    worker(s, "w", "fn")
    s.send("w", "PRE_SLEEP")
    s.barrier("w")
    s.request("c", "SUBMIT_JOB_EPOCH", "fn", "", "0", "zero")
    s.recv("w", "NOOP for epoch 0")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("c", "SUBMIT_JOB_EPOCH", "fn", "e1", "1000000000", "past")
    s.request("c", "SUBMIT_JOB_EPOCH", "fn", "e1", "0", "coalesced")
    s.request("c", "SUBMIT_JOB_EPOCH", "fn", "e2", "-5", "negative")
    last = s.request("c", "SUBMIT_JOB_EPOCH", "fn", "e3", "soon", "nonnumeric")
    s.submit("c", "SUBMIT_JOB_LOW_BG", "fn", "", "low")
    s.submit("c", "SUBMIT_JOB_HIGH_BG", "fn", "", "high")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")
    s.admin_list("admin", "show jobs")
    s.request("c2", "GET_STATUS", last[2][0])
    s.request("c2", "GET_STATUS_UNIQUE", "e1")
    for _ in range(6):
        s.request("w", "GRAB_JOB_UNIQ")
    s.send("w", "WORK_COMPLETE", last[2][0], "done")
    s.barrier("w")
    pending(s, "c", "background: the submitter hears nothing")


def _future_epoch(s: Session, when: int) -> None:
    """A future epoch job (the only job of its function): created, counted as a queued NORMAL
    job, not given to a worker, PRE_SLEEP not answered; the server keeps serving."""
    h = s.request("c", "SUBMIT_JOB_EPOCH", "fn", "later", str(when), "later")
    s.request("c", "ECHO_REQ", "still serving")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")
    s.admin_list("admin", "show jobs")
    s.admin_list("admin", "show unique jobs")
    s.request("c", "GET_STATUS", h[2][0] if isinstance(h, tuple) and h[1] == "JOB_CREATED" else "")
    s.request("c", "GET_STATUS_UNIQUE", "later")
    s.send("w", "PRE_SLEEP")
    s.nothing("w", "no NOOP: the job is not due")
    s.submit("c", "SUBMIT_JOB_BG", "other", "", "x")
    s.request("c", "ECHO_REQ", "still serving")


@scenario
def submit_job_epoch_future_waits(s: Session) -> None:
    """An epoch an hour ahead."""
    _future_epoch(s, int(time.time()) + 3600)


@scenario
def submit_job_epoch_far_future_waits(s: Session) -> None:
    """An epoch in 2100 (more than the 24.8 days an epoll timeout can hold)."""
    _future_epoch(s, 4102444800)


@scenario
def submit_job_sched_and_all_yours_invalid_command(s: Session) -> None:
    """SUBMIT_JOB_SCHED (well formed, 7 args + data) and ALL_YOURS → ERROR INVALID_COMMAND;
    nothing is created and the connection stays open."""
    s.request("c", "SUBMIT_JOB_SCHED", "fn", "u1", "1", "2", "3", "4", "5", "data")
    s.request("c", "SUBMIT_JOB_SCHED", "fn", "u1", "*", "*", "*", "*", "*", "")
    s.request("w", "ALL_YOURS")
    worker(s, "w", "fa")
    s.request("w", "ALL_YOURS")
    s.admin_list("admin", "status")
    s.request("c", "ECHO_REQ", "still open")
    s.request("w", "GRAB_JOB")


@scenario
def reduce_jobs_foreground_and_grab_variants(s: Session) -> None:
    """Reduce jobs: foreground results reach every coalesced client; GRAB_JOB gives JOB_ASSIGN
    (no reducer), GRAB_JOB_ALL gives JOB_ASSIGN_ALL with the reducer (the aggregate argument is
    ignored), an empty reducer counts as none."""
    s.request("c1", "SUBMIT_REDUCE_JOB", "red", "ru1", "myreducer", "", "data1", label="submit 1")
    s.request("c2", "SUBMIT_REDUCE_JOB", "red", "ru1", "other", "", "data2", label="coalesced")
    s.request("c1", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "ru2", "r2", "agg", "data3")
    s.request("c1", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "ru3", "", "", "no reducer")
    s.request("c1", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "", "r4", "", "empty unique")
    s.admin_list("admin", "status")
    worker(s, "w", "red")
    first = s.request("w", "GRAB_JOB")
    if isinstance(first, tuple) and first[1] == "JOB_ASSIGN":
        s.send("w", "WORK_COMPLETE", first[2][0], "reduced")
        s.recv("c1", "WORK_COMPLETE")
        s.recv("c2", "WORK_COMPLETE")
    for _ in range(4):
        s.request("w", "GRAB_JOB_ALL")


@scenario
def reduce_reducer_size_limit(s: Session) -> None:
    """gearmand checks the reducer against the unique's size: 64 bytes pass, 65 bytes get
    ERROR ARGUMENT_TOO_LARGE "Unique value too large" (reference §1.1 and §1.3).  (A 65-byte
    unique on a reduce job is a deliberate difference: gearmand accepts and truncates it.)"""
    s.request("c", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "r64", "x" * 64, "", "d64")
    s.request("c", "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "r65", "y" * 65, "", "d65")
    s.request("c", "SUBMIT_REDUCE_JOB", "red", "r200", "z" * 200, "", "d200")
    s.admin_list("admin", "status")
    worker(s, "w", "red")
    s.request("w", "GRAB_JOB_ALL")
    s.request("w", "GRAB_JOB_ALL")


@scenario
def can_do_timeout_job_completed_in_time(s: Session) -> None:
    """CAN_DO_TIMEOUT registers the function like CAN_DO (``workers``, ``status``, wake-ups);
    a job finished before the timeout behaves as without one; a non-numeric timeout is none."""
    s.send("w", "CAN_DO_TIMEOUT", "fn", "5000")
    s.send("w", "CAN_DO_TIMEOUT", "fn2", "abc")
    s.barrier("w")
    settled_workers(s, "admin")
    s.admin_list("admin", "status")
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "x")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_STATUS", h, "1", "2")
    s.recv("c", "WORK_STATUS")
    s.send("w", "WORK_COMPLETE", h, "done")
    s.recv("c", "WORK_COMPLETE")
    h2 = s.submit("c", "SUBMIT_JOB", "fn2", "", "y")
    s.request("w", "GRAB_JOB")
    s.send("w", "WORK_COMPLETE", h2, "done2")
    s.recv("c", "WORK_COMPLETE fn2")
    s.request("w", "GRAB_JOB")
    s.send("w", "PRE_SLEEP")
    s.barrier("w")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "z")
    s.recv("w", "NOOP")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "status")


@scenario
def can_do_timeout_huge_value_job_completed(s: Session) -> None:
    """CAN_DO_TIMEOUT with 99999999999 ms (about 3 years): the job runs and completes as
    usual and the server keeps answering."""
    s.send("w", "CAN_DO_TIMEOUT", "fn", "99999999999")
    s.barrier("w")
    h = s.submit("c", "SUBMIT_JOB", "fn", "", "x")
    s.request("w", "GRAB_JOB")
    s.request("w", "ECHO_REQ", "worker still served")
    s.request("c", "ECHO_REQ", "client still served")
    s.send("w", "WORK_COMPLETE", h, "done")
    s.recv("c", "WORK_COMPLETE")
    s.admin_list("admin", "status")


@scenario
def can_do_timeout_over_20_characters_not_registered(s: Session) -> None:
    """A CAN_DO_TIMEOUT whose timeout has more than 20 characters is an internal error in
    gearmand (reference §1.1): no reply and nothing registered.  gearmand may also close that
    connection later, so whether it does is not compared; 20 characters are fine."""
    c = s.conn("w")
    c.send("CAN_DO_TIMEOUT", "fn", "1" * 21)
    c.send("ECHO_REQ", b"after")
    try:
        c.recv_packet(REPLY_TIMEOUT)
    except (TimeoutError, ConnectionClosed):
        pass
    s.send("w2", "CAN_DO_TIMEOUT", "fn2", "0" * 16 + "5000")
    s.barrier("w2")
    s.admin_list("admin", "status")


@scenario
def set_client_id_truncated_at_127(s: Session) -> None:
    """SET_CLIENT_ID keeps the first 127 bytes of a longer id."""
    long_id = "".join(chr(ord("a") + i % 26) for i in range(200))
    s.send("w", "SET_CLIENT_ID", long_id)
    s.send("c", "SET_CLIENT_ID", "x" * 127)
    s.send("c2", "SET_CLIENT_ID", "y" * 128)
    for name in ("w", "c", "c2"):
        s.barrier(name)
    settled_workers(s, "admin")


@scenario
def foreground_client_disconnect_running_job_not_rerun(s: Session) -> None:
    """A running foreground job whose only client left is marked IGNORE_JOB at once; when its
    worker goes away too, the requeued job is dropped instead of run again (reference §3.12:
    no clients left → ignore_job)."""
    h = s.submit("c1", "SUBMIT_JOB", "fn", "", "x")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.close("c1", settle=SETTLE)
    s.admin_list("admin", "show jobs")
    s.close("w1")
    s.poll("c2", "GET_STATUS", h, until=lambda r: running(r) == b"0",
           label="GET_STATUS until requeued")
    worker(s, "w2", "fn")
    s.request("w2", "GRAB_JOB")
    s.admin_list("admin", "status")
