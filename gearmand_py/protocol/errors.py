"""ERROR packet codes and texts exactly as gearmand 1.1.20 sends them (code, text)."""

from __future__ import annotations

ErrorReply = tuple[bytes, bytes]

INVALID_COMMAND: ErrorReply = (b"INVALID_COMMAND", b"Command not expected")
UNIQUE_TOO_LARGE: ErrorReply = (b"ARGUMENT_TOO_LARGE", b"Unique value too large")
#: gearmand sends no reply at all here (an internal error); gearmand-py says what is wrong.
TIMEOUT_TOO_LARGE: ErrorReply = (b"ARGUMENT_TOO_LARGE", b"Timeout value too large")
#: gearmand fails a SUBMIT_JOB_EPOCH whose epoch overflows 64 bits without a reply either.
EPOCH_OUT_OF_RANGE: ErrorReply = (b"ARGUMENT_TOO_LARGE", b"Epoch value out of range")
QUEUE_FULL: ErrorReply = (b"QUEUE_ERROR", b"Job queue is full")
UNKNOWN_OPTION: ErrorReply = (b"UNKNOWN_OPTION", b"Server does not recognize given option")
JOB_NOT_FOUND_DATA: ErrorReply = (b"JOB_NOT_FOUND", b"Job does not exist on server")
JOB_NOT_FOUND_RESULT: ErrorReply = (b"JOB_NOT_FOUND", b"Job given in work result not found")
JOB_NOT_FOUND_EXCEPTION: ErrorReply = (
    b"JOB_NOT_FOUND", b"An exception was received for a job that does not exist")
