"""Differential scenarios for the admin text protocol (reference §2.2, §3.9, §3.13).

Registered in ``scenarios.ALL`` like the others (``test_differential`` imports this module).  The
rows of ``status``, ``prioritystatus``, ``show jobs`` and ``show unique jobs`` are compared sorted
(gearmand lists them in hash order).  Left out on purpose, as deliberate differences tested in
``tests/server/test_differences.py``: ``create function`` with an LF-only line, ``drop function``
of a function with queued jobs, and ``shutdown``.
"""

from __future__ import annotations

from .harness import SETTLE, Session, with_args
from .scenarios import NO_HANDLE, pending, running, scenario, worker


def _created(reply: object) -> str:
    """The handle of a recorded JOB_CREATED as text (``H:nosuch:1`` if the submit failed, so the
    scenario goes on and shows the difference)."""
    if isinstance(reply, tuple) and len(reply) == 3 and reply[1] == "JOB_CREATED":
        return reply[2][0].decode()
    return NO_HANDLE


# --- prioritystatus / show jobs / show unique jobs ---------------------------------------------

@scenario
def admin_prioritystatus_counts_waiting_jobs(s: Session) -> None:
    """``prioritystatus``: waiting jobs per priority (a running one is no longer counted) and
    the worker count, for every function (one with only a worker, one made by ``create
    function``); the command word is case-insensitive."""
    s.admin_list("admin", "prioritystatus")
    for ptype, function in (("SUBMIT_JOB_HIGH_BG", "pa"), ("SUBMIT_JOB_HIGH", "pa"),
                            ("SUBMIT_JOB", "pa"), ("SUBMIT_JOB_LOW_BG", "pa"),
                            ("SUBMIT_JOB_LOW", "pb"), ("SUBMIT_JOB_BG", "pb")):
        s.submit("c", ptype, function, "", "x")
    worker(s, "w1", "pa")
    worker(s, "w2", "pc")
    s.admin_line("admin", "create function pd")
    s.admin_list("admin", "prioritystatus")
    s.request("w1", "GRAB_JOB")
    s.admin_list("admin", "prioritystatus")
    s.admin_list("admin", "status")
    s.admin_list("admin", "PRIORITYSTATUS")


@scenario
def admin_show_jobs_columns(s: Session) -> None:
    """``show jobs``: HANDLE RETRIES IGNORE_JOB JOB_QUEUED.  JOB_QUEUED is 1 for background jobs
    (queued or running), 0 for foreground ones; RETRIES counts requeues; IGNORE_JOB is 1 after
    ``cancel job`` and after the only client of a queued foreground job left."""
    s.admin_list("admin", "show jobs")
    bg = s.submit("c", "SUBMIT_JOB_BG", "fn", "b1", "bg")
    fg = s.submit("c", "SUBMIT_JOB", "fn", "f1", "fg")
    other = s.submit("c", "SUBMIT_JOB_HIGH_BG", "other", "", "x")
    s.submit("gone", "SUBMIT_JOB_LOW", "fn", "", "abandoned")
    s.admin_list("admin", "show jobs")
    worker(s, "w1", "fn")
    s.request("w1", "GRAB_JOB")
    s.request("w1", "GRAB_JOB")
    s.admin_list("admin", "show jobs")
    s.close("w1")
    s.poll("c2", "GET_STATUS", bg, until=lambda r: running(r) == b"0",
           label="GET_STATUS until requeued")
    s.request("c2", "GET_STATUS", fg)
    s.close("gone", settle=SETTLE)
    s.admin_line("admin", f"cancel job {other.decode()}")
    s.admin_list("admin", "show jobs")
    s.admin_list("admin", "SHOW JOBS")
    s.admin_list("admin", "status")


@scenario
def admin_show_unique_jobs(s: Session) -> None:
    """``show unique jobs``: one line per job with its unique (an empty line for none, ``-``
    for a data-keyed job, one line per function for a shared unique, none for a coalesced
    submit); a finished job's line goes away."""
    s.admin_list("admin", "show unique jobs")
    h = s.submit("c", "SUBMIT_JOB_BG", "fn", "u-one", "x")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "", "x")
    s.submit("c", "SUBMIT_JOB_LOW_BG", "fn", "-", "dashdata")
    s.submit("c", "SUBMIT_JOB", "fn2", "u-one", "x")
    s.submit("c", "SUBMIT_JOB_BG", "fn", "u-one", "dup")
    s.submit("c", "SUBMIT_JOB_HIGH_BG", "fn", "w" * 63, "x")
    s.admin_list("admin", "show unique jobs")
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB_UNIQ")
    s.request("w", "GRAB_JOB_UNIQ")
    s.send("w", "WORK_COMPLETE", h, "done")
    s.barrier("w")
    s.admin_list("admin", "Show Unique Jobs")
    s.admin_line("admin", "show unique")
    s.admin_line("admin", "show unique jobs x")
    s.admin_line("admin", "show jobs x")


# --- cancel job ----------------------------------------------------------------------------------

@scenario
def admin_cancel_job(s: Session) -> None:
    """``cancel job``: OK and WORK_FAIL to the attached client, again OK and another WORK_FAIL;
    the job stays in ``show jobs``/``status`` until a worker reaches it, which then gets the next
    job or NO_JOB; then the handle is unknown.  Argument errors: unknown handle, 4 tokens,
    ``cancel job`` and ``cancel`` alone, another keyword."""
    h1 = _created(s.request("c", "SUBMIT_JOB", "fn", "u1", "one"))
    h2 = _created(s.request("c2", "SUBMIT_JOB", "fn", "u2", "two"))
    h3 = _created(s.request("c", "SUBMIT_JOB_BG", "fn", "u3", "three"))
    s.admin_line("admin", f"cancel job {h1}")
    s.recv("c", "WORK_FAIL after cancel")
    s.admin_line("admin", f"cancel job {h1}")
    s.recv("c", "WORK_FAIL after the second cancel")
    s.admin_line("admin", f"CANCEL JOB {h3}")
    pending(s, "c", "nothing for the background job")
    s.admin_line("admin", "cancel job H:nosuch:1")
    s.admin_line("admin", f"cancel job {h2} extra")
    s.admin_line("admin", "cancel job")
    s.admin_line("admin", "cancel")
    s.admin_line("admin", f"cancel jobs {h2}")
    s.admin_list("admin", "show jobs")
    s.admin_list("admin", "status")
    s.request("c3", "GET_STATUS", h1)
    worker(s, "w", "fn")
    s.request("w", "GRAB_JOB")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "show jobs")
    s.admin_list("admin", "status")
    s.admin_line("admin", f"cancel job {h1}")
    s.request("c3", "GET_STATUS", h1)
    pending(s, "c", "nothing more for the first client")
    pending(s, "c2", "second client not touched")
    # a running job: cancelled, but the worker's results still reach the client
    s.admin_line("admin", f"cancel job {h2}")
    s.recv("c2", "WORK_FAIL for the running job")
    s.admin_list("admin", "show jobs")
    s.request("c3", "GET_STATUS", h2)
    s.send("w", "WORK_DATA", h2, "chunk")
    s.recv("c2", "WORK_DATA after cancel")
    s.send("w", "WORK_COMPLETE", h2, "done")
    s.recv("c2", "WORK_COMPLETE after cancel")
    pending(s, "w")
    s.admin_list("admin", "status")


# --- create function / drop function ----------------------------------------------------------------

@scenario
def admin_create_function(s: Session) -> None:
    """``create function NAME`` makes an empty function (listed by ``status`` and
    ``prioritystatus``, usable by workers and clients); creating it again changes nothing; any
    other shape is ERR INVALID_ARGUMENTS ...create."""
    s.admin_line("admin", "create function newfn")
    s.admin_line("admin", "CREATE FUNCTION Other")
    s.admin_line("admin", "create function newfn")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")
    for line in ("create function", "create function a b", "create fn x", "create",
                 "create function x ", "Create Function"):
        s.admin_line("admin", line)
    s.admin_list("admin", "status")
    worker(s, "w", "newfn")
    s.submit("c", "SUBMIT_JOB_BG", "newfn", "", "x")
    s.admin_list("admin", "status")
    s.request("w", "GRAB_JOB")


@scenario
def admin_drop_function(s: Session) -> None:
    """``drop function``: OK for a function without workers or running jobs (matched
    case-insensitively), ERR function not found, ERR there are still ... (the rest normalised:
    gearmand-py names what holds the function); wrong shapes → ERR INVALID_ARGUMENTS ...drop.
    A dropped function is created afresh by the next reference."""
    s.admin_line("admin", "create function dropme")
    s.drop_function("admin", "drop function dropme")
    s.drop_function("admin", "drop function dropme")
    s.drop_function("admin", "drop function nosuch")
    for line in ("drop function", "drop function a b", "drop fn x", "drop"):
        s.admin_line("admin", line)
    worker(s, "w", "busy")
    s.drop_function("admin", "drop function busy")
    h = s.submit("c", "SUBMIT_JOB", "busy", "", "x")
    s.request("w", "GRAB_JOB")
    s.drop_function("admin", "drop function busy")
    s.send("w", "WORK_COMPLETE", h, "ok")
    s.recv("c", "WORK_COMPLETE")
    s.drop_function("admin", "drop function busy")
    s.send("w", "RESET_ABILITIES")
    s.barrier("w")
    s.admin_list("admin", "status")
    s.drop_function("admin", "DROP FUNCTION BUSY")
    s.admin_list("admin", "status")
    worker(s, "w2", "leaving")
    s.close("w2", settle=SETTLE)
    s.drop_function("admin", "Drop Function leaving")
    s.submit("c", "SUBMIT_JOB_BG", "busy", "", "again")
    s.admin_list("admin", "status")


# --- maxqueue ------------------------------------------------------------------------------------

@scenario
def admin_maxqueue_one_limit(s: Session) -> None:
    """``maxqueue FUNC N`` limits queued plus running jobs of every priority: a full queue gives
    ERROR QUEUE_ERROR (a running job still counts), a submit coalescing onto an existing unique
    still works, a finished job frees a place.  ``maxqueue FUNC`` resets; an unknown function
    gets OK and is not created; the function name is case-sensitive; ``maxqueue`` alone is
    ERR INVALID_ARGUMENTS."""
    s.admin_line("admin", "maxqueue")
    s.admin_line("admin", "maxqueue nosuch 5")
    s.admin_list("admin", "status")
    s.admin_line("admin", "create function mq")
    s.admin_line("admin", "maxqueue mq 2")
    u0 = _created(s.request("c", "SUBMIT_JOB_BG", "mq", "u0", "x"))
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u1", "x")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u2", "x")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u0", "dup")
    s.submit("fg", "SUBMIT_JOB", "mq", "u0", "attach")
    s.submit("c", "SUBMIT_JOB_HIGH", "mq", "", "x")
    s.submit("c", "SUBMIT_JOB_LOW_BG", "mq", "", "x")
    s.request("c", "SUBMIT_JOB_EPOCH", "mq", "", "0", "x")
    s.request("c", "SUBMIT_REDUCE_JOB_BACKGROUND", "mq", "", "r", "", "x")
    worker(s, "w", "mq")
    s.request("w", "GRAB_JOB")
    s.admin_list("admin", "status")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u3", "still full")
    s.send("w", "WORK_COMPLETE", u0, "done")
    s.recv("fg", "WORK_COMPLETE")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u3", "room again")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u4", "full again")
    s.admin_line("admin", "maxqueue MQ 0")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u4", "other name did not reset it")
    s.admin_line("admin", "MaxQueue mq")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u4", "reset")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u5", "reset")
    s.admin_line("admin", "maxqueue mq 1")
    s.submit("c", "SUBMIT_JOB_BG", "mq", "u6", "over the new limit")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")


@scenario
def admin_maxqueue_per_priority(s: Session) -> None:
    """``maxqueue FUNC H N L`` sets each priority's threshold on the function's total;
    ``maxqueue FUNC H N`` leaves LOW unlimited; a negative value means unlimited."""
    for name in ("mq3", "mq2", "mqneg"):
        s.admin_line("admin", f"create function {name}")
    s.admin_line("admin", "maxqueue mq3 0 1 0")
    for ptype in ("SUBMIT_JOB_BG", "SUBMIT_JOB_BG", "SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_LOW_BG",
                  "SUBMIT_JOB", "SUBMIT_JOB_LOW"):
        s.submit("c", ptype, "mq3", "", "x")
    s.admin_line("admin", "maxqueue mq2 3 -5")
    for ptype in ("SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_HIGH_BG",
                  "SUBMIT_JOB_HIGH_BG", "SUBMIT_JOB_BG", "SUBMIT_JOB_LOW_BG", "SUBMIT_JOB_HIGH"):
        s.submit("c", ptype, "mq2", "", "x")
    s.admin_line("admin", "maxqueue mqneg -1")
    for _ in range(3):
        s.submit("c", "SUBMIT_JOB_BG", "mqneg", "", "x")
    s.admin_line("admin", "maxqueue mqneg 2 2 2")
    s.submit("c", "SUBMIT_JOB_LOW_BG", "mqneg", "", "x")
    s.admin_line("admin", "maxqueue mqneg 5 x 5")
    s.submit("c", "SUBMIT_JOB_BG", "mqneg", "", "non-numeric is 0")
    s.submit("c", "SUBMIT_JOB_HIGH_BG", "mqneg", "", "x")
    s.admin_list("admin", "status")
    s.admin_list("admin", "prioritystatus")


# --- line shapes and options -----------------------------------------------------------------------

@scenario
def admin_trailing_spaces(s: Session) -> None:
    """A trailing space is an empty last token: fine for ``status``/``prioritystatus``/
    ``verbose``/``version``/``maxqueue``, but ``show jobs `` is UNKNOWN_SHOW_ARGUMENTS, ``cancel
    job H `` is UNKNOWN_ERROR and ``create function x `` is INVALID_ARGUMENTS."""
    h = s.submit("c", "SUBMIT_JOB_BG", "fn", "", "x")
    s.admin_list("admin", "status  ")
    s.admin_list("admin", "prioritystatus ")
    s.admin_line("admin", "show jobs ")
    s.admin_line("admin", "show unique jobs ")
    s.admin_line("admin", "cancel job H:x:1 ")
    s.admin_line("admin", f"cancel job {h.decode()} ")
    s.admin_line("admin", "create function x ")
    s.admin_line("admin", "drop function fn ")
    s.admin_line("admin", "maxqueue ")
    s.admin_line("admin", "maxqueue fn 1 ")
    s.admin_line("admin", "verbose ")
    s.version("admin", "version ")
    s.admin_list("admin", "status")
    s.admin_list("admin", "show jobs")


@scenario
@with_args("--verbose", "INFO")
def admin_verbose_reports_the_option(s: Session) -> None:
    """``verbose`` answers the level given with --verbose."""
    s.admin_line("admin", "verbose")
    s.admin_line("admin", "VERBOSE extra")
