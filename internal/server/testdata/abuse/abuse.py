"""Misbehaving handlers for internal/server/abuse_test.go, one per abuse.

Every handler answers {"warm": true} at once, so a test can start the
environment before the abuse and time a warm invocation.
"""
import errno
import os
import signal
import time


def _warm(event):
    return isinstance(event, dict) and event.get("warm")


def hog(event, context):
    """Allocates far past its memory, 16 MB at a time, every page written."""
    if _warm(event):
        return "warm"
    chunks = []
    while True:
        chunks.append(b"x" * (16 << 20))


def forks(event, context):
    """Starts processes without end (each a sleep; posix_spawn, a vfork, is
    the fastest way to make them), retrying when that fails.
    event["limit"], when set, stops it there (the test's bound)."""
    if _warm(event):
        return "warm"
    limit = event.get("limit") or 0
    n, told = 0, False
    while True:
        if limit and n >= limit:
            if not told:
                print("forked %d: the test's bound" % n, flush=True)
                told = True
            time.sleep(0.05)
            continue
        try:
            os.posix_spawn("/bin/sleep", ["sleep", "600"], os.environ)
        except OSError as e:
            if not told:
                print("fork failed after %d: %s" % (n, errno.errorcode.get(e.errno, e.errno)), flush=True)
                told = True
            time.sleep(0.005)
            continue
        n += 1


def fill_tmp(event, context):
    """Writes to /tmp until the write fails."""
    if _warm(event):
        return "warm"
    chunk = b"\0" * (1 << 20)
    with open("/tmp/fill", "wb", buffering=0) as f:
        while True:
            f.write(chunk)


def open_files(event, context):
    """Opens files until open fails."""
    if _warm(event):
        return "warm"
    files = []
    try:
        while True:
            files.append(open("/dev/null", "rb"))
    except OSError:
        print("opened %d files" % len(files), flush=True)
        raise


def flood(event, context):
    """Writes 1 KB lines to stdout as fast as it can for event["seconds"]."""
    if _warm(event):
        return "warm"
    return _write((b"y" * 1023 + b"\n") * 1024, event["seconds"])


def endless_line(event, context):
    """Writes one line that never ends for event["seconds"]."""
    if _warm(event):
        return "warm"
    return _write(b"z" * (1 << 20), event["seconds"])


def _write(chunk, seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += os.write(1, chunk)
    return {"bytes": n}


def ignore_term(event, context):
    """Ignores SIGTERM, as does a child it starts, and never returns."""
    if _warm(event):
        return "warm"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        try:
            os.execv("/bin/sleep", ["sleep", "600"])  # SIG_IGN survives exec
        finally:
            os._exit(127)
    while True:
        time.sleep(1)
