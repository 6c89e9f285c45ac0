"""Shared parts of wsgate's Python echo interop clients.

The command line, the payloads, the per-check report and the JSON summary are
the same for every client (echo_client.py with websockets,
autobahn_echo_client.py with autobahn), so their results compare line for
line. Only the standard library is imported here.
"""

import argparse
import asyncio
import json
import os
import random
import re
import time

DEFAULT_SIZES = "0,1,125,126,65535,65536,1MiB,16MiB"
TEXT_PATTERN = "wsgate echo: caf\u00e9 \u20ac \U0001F600 \u00fc\u00df\n".encode()


def parse_size(text):
    """Return the byte count of text such as "126", "64KiB" or "16MiB"."""
    m = re.fullmatch(r"\s*(\d+)\s*(b|kib|mib)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    mult = {"b": 1, "kib": 1 << 10, "mib": 1 << 20}[(m.group(2) or "b").lower()]
    return int(m.group(1)) * mult


def parse_sizes(text):
    """Return the list of sizes in a comma separated list."""
    return [parse_size(part) for part in text.split(",")]


def parse_window_bits(text):
    """Return text as window bits, an integer in [8, 15]."""
    n = int(text)
    if not 8 <= n <= 15:
        raise argparse.ArgumentTypeError("window bits must be in [8, 15]")
    return n


def parse_args(argv, description):
    """Parse the command line (and the WSGATE_ECHO_* environment)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("url")
    p.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(os.environ.get("WSGATE_ECHO_SIZES") or DEFAULT_SIZES),
    )
    env_max = os.environ.get("WSGATE_ECHO_MAX_SIZE")
    p.add_argument(
        "--max-size", type=parse_size, default=parse_size(env_max) if env_max else None
    )
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--server-max-window-bits", type=parse_window_bits)
    p.add_argument("--client-max-window-bits", type=parse_window_bits)
    p.add_argument("--server-no-context-takeover", action="store_true")
    p.add_argument("--client-no-context-takeover", action="store_true")
    opts = p.parse_args(argv)
    if opts.timeout <= 0:
        p.error("--timeout must be positive")
    return opts


def text_payload(n):
    """Return exactly n bytes of valid UTF-8; the tail is ASCII."""
    whole, rest = divmod(n, len(TEXT_PATTERN))
    return TEXT_PATTERN * whole + b"a" * rest


def binary_payload(n):
    """Return n deterministic pseudo-random (incompressible) bytes."""
    return random.Random(n).randbytes(n)


def first_difference(a, b):
    """Return the index of the first byte where a and b differ."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


class Report:
    """Collects check results and prints one line per check."""

    def __init__(self):
        self.checks = []

    def add(self, name, ok, started, detail=""):
        ms = int((time.monotonic() - started) * 1000)
        check = {"name": name, "ok": ok, "ms": ms}
        if detail:
            check["detail" if ok else "error"] = detail
        self.checks.append(check)
        status = "PASS" if ok else "FAIL"
        suffix = f": {detail}" if detail else ""
        print(f"{status} {name} ({ms} ms){suffix}", flush=True)

    def skip(self, name, why):
        self.checks.append({"name": name, "ok": None, "skipped": why})
        print(f"SKIP {name}: {why}", flush=True)

    def count(self, value):
        return sum(1 for c in self.checks if c["ok"] is value)




async def run_checks(conn, report, opts, extensions, negotiated, check_echo, check_ping, check_close):
    """Run the checks every client makes on an upgraded connection: deflate
    negotiated (when asked), echo of each size as text and binary, pings,
    close. The check functions are the client library's own. Returns the
    Sec-WebSocket-Extensions answer."""
    if opts.deflate:
        detail = f"Sec-WebSocket-Extensions: {extensions}" if extensions else (
            "server accepted no extension"
        )
        report.add("deflate-negotiated", negotiated, time.monotonic(), detail)
    in_step = True
    for size in opts.sizes:
        for kind in ("text", "binary"):
            name = f"{kind}/{size}"
            if opts.max_size is not None and size > opts.max_size:
                report.skip(name, f"over max size {opts.max_size}")
            elif not in_step:
                report.skip(name, "an earlier echo failed")
            else:
                in_step = await check_echo(conn, report, kind, size, opts.timeout)
    if in_step:
        await check_ping(conn, report, "ping", PING_PAYLOAD, opts.timeout)
        await check_ping(conn, report, "ping-empty", b"", opts.timeout)
    await check_close(conn, report, opts.timeout)
    return extensions


def main(argv, description, client, version, run):
    """Parse argv, run the client's async run(opts, report) and print the
    summary; returns the exit code. A bug in run still ends in a summary."""
    opts = parse_args(argv, description)
    report = Report()
    started = time.monotonic()
    extensions = ""
    try:
        extensions = asyncio.run(run(opts, report))
    except Exception as err:
        report.add("run", False, started, f"unexpected {type(err).__name__}: {err}")
    return summarize(report, client, version, opts.url, opts.deflate, extensions, started)


def summarize(report, client, version, url, deflate, extensions, started):
    """Print the JSON summary line and return the exit code."""
    passed, failed = report.count(True), report.count(False)
    summary = {
        "client": client,
        "version": version,
        "url": url,
        "deflate": deflate,
        "extensions": extensions,
        "ok": failed == 0 and passed > 0,
        "passed": passed,
        "failed": failed,
        "skipped": report.count(None),
        "ms": int((time.monotonic() - started) * 1000),
        "failures": [c for c in report.checks if c["ok"] is False],
    }
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


def echo_problems(kind, sent, got_kind, got_bytes):
    """Return what differs between a sent message and its echo."""
    problems = []
    if got_kind != kind:
        problems.append(f"opcode: sent {kind}, echo was {got_kind}")
    if got_bytes != sent:
        problems.append(
            f"payload: sent {len(sent)} bytes, echo {len(got_bytes)} bytes, "
            f"first difference at byte {first_difference(sent, got_bytes)}"
        )
    return problems


def client_max_size(opts):
    """Return the client's own message limit: the largest size to send plus
    room for deflate's growth of incompressible data (this limit is not what
    is tested)."""
    allowed = [s for s in opts.sizes if opts.max_size is None or s <= opts.max_size]
    largest = max(allowed + [1])
    return largest + largest // 8 + 65536


PING_PAYLOAD = "wsgate-ping \u00e9 0123456789".encode()
