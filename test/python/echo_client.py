#!/usr/bin/python3
"""Echo interop check with Python `websockets` against a WebSocket echo endpoint.

A client someone else wrote, talking to wsgate's /echo (or any echo server).
Run it with Debian's interpreter, /usr/bin/python3, where the Debian package
python3-websockets (10.4 on bookworm: asyncio API only) is installed by
scripts/setup-test-deps.sh.

Usage:
  /usr/bin/python3 echo_client.py URL [--sizes LIST] [--max-size BYTES]
      [--timeout SECONDS] [--deflate]
      [--server-max-window-bits N] [--client-max-window-bits N]
      [--server-no-context-takeover] [--client-no-context-takeover]

LIST is comma separated sizes in bytes with an optional KiB/MiB suffix
(default 0,1,125,126,65535,65536,1MiB,16MiB; env WSGATE_ECHO_SIZES). Sizes
above --max-size (env WSGATE_ECHO_MAX_SIZE) are skipped. For each size a text
message (valid UTF-8 mixing 1- to 4-byte characters) and a binary message are
sent; each echo must come back with the same opcode and the same bytes. Then a
ping with a payload (and an empty one) must be answered by a pong with the same
payload, and a close with 1000 must be answered by a close frame with 1000.

--deflate offers permessage-deflate with the given parameters and fails if the
server does not accept it.

Each check prints one line; the last line is a JSON summary. The exit code is
0 only if every check passed (and at least one ran), 1 if one failed, 2 on bad
arguments, 3 if websockets cannot be imported.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time

try:
    import websockets
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
    )
except ImportError as err:  # pragma: no cover - depends on the machine
    print(
        f"echo_client.py: cannot import websockets ({err}); run "
        "scripts/setup-test-deps.sh and use /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(3)

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


def parse_args(argv):
    """Parse the command line (and the WSGATE_ECHO_* environment)."""
    p = argparse.ArgumentParser(description="websockets echo interop check")
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


def deflate_factory(opts):
    """Return the permessage-deflate offer built from the options."""
    kwargs = {
        "server_no_context_takeover": opts.server_no_context_takeover,
        "client_no_context_takeover": opts.client_no_context_takeover,
    }
    if opts.server_max_window_bits:
        kwargs["server_max_window_bits"] = opts.server_max_window_bits
    if opts.client_max_window_bits:
        kwargs["client_max_window_bits"] = opts.client_max_window_bits
    return ClientPerMessageDeflateFactory(**kwargs)


async def check_echo(ws, report, kind, size, timeout):
    """Send one message and check its echo; False if the stream is lost."""
    name = f"{kind}/{size}"
    started = time.monotonic()
    sent = binary_payload(size) if kind == "binary" else text_payload(size)
    try:
        await asyncio.wait_for(
            ws.send(sent if kind == "binary" else sent.decode()), timeout
        )
        got = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        report.add(name, False, started, f"no echo within {timeout} s")
        return False
    except websockets.exceptions.ConnectionClosed as err:
        report.add(name, False, started, f"connection closed: {err}")
        return False
    problems = []
    got_kind = "text" if isinstance(got, str) else "binary"
    if got_kind != kind:
        problems.append(f"opcode: sent {kind}, echo was {got_kind}")
    got_bytes = got.encode() if isinstance(got, str) else got
    if got_bytes != sent:
        problems.append(
            f"payload: sent {len(sent)} bytes, echo {len(got_bytes)} bytes, "
            f"first difference at byte {first_difference(sent, got_bytes)}"
        )
    report.add(name, not problems, started, "; ".join(problems))
    return True


async def check_ping(ws, report, name, payload, timeout):
    """Ping with payload; websockets resolves the waiter only on a pong
    that carries the same payload."""
    started = time.monotonic()
    try:
        waiter = await ws.ping(payload)
        await asyncio.wait_for(waiter, timeout)
        report.add(name, True, started)
    except asyncio.TimeoutError:
        report.add(
            name, False, started, f"no pong with payload {payload!r} within {timeout} s"
        )
    except websockets.exceptions.ConnectionClosed as err:
        report.add(name, False, started, f"connection closed: {err}")


async def check_close(ws, report, timeout):
    """Close with 1000 and check that the server's close frame has 1000."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(ws.close(code=1000, reason="wsgate interop done"), timeout)
    except asyncio.TimeoutError:
        report.add("close", False, started, f"no close frame within {timeout} s")
        return
    if ws.close_code == 1000:
        report.add("close", True, started, f"reason {ws.close_reason!r}")
    else:
        report.add(
            "close",
            False,
            started,
            f"server closed with {ws.close_code} {ws.close_reason!r}, want 1000",
        )


async def run(opts, report):
    """Run every check over one connection; return the negotiated extensions."""
    allowed = [s for s in opts.sizes if opts.max_size is None or s <= opts.max_size]
    largest = max(allowed + [1])
    started = time.monotonic()
    try:
        ws = await websockets.connect(
            opts.url,
            compression=None,
            extensions=[deflate_factory(opts)] if opts.deflate else None,
            # Room for deflate's growth of incompressible data; this client's
            # own limit is not what is tested.
            max_size=largest + largest // 8 + 65536,
            ping_interval=None,
            open_timeout=opts.timeout,
            close_timeout=opts.timeout,
        )
    except Exception as err:  # refused, HTTP error, bad handshake, timeout
        report.add("handshake", False, started, f"{type(err).__name__}: {err}")
        return ""
    report.add("handshake", True, started)
    extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    if opts.deflate:
        negotiated = any(e.name == "permessage-deflate" for e in ws.extensions)
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
                in_step = await check_echo(ws, report, kind, size, opts.timeout)
    if in_step:
        ping = "wsgate-ping \u00e9 0123456789".encode()
        await check_ping(ws, report, "ping", ping, opts.timeout)
        await check_ping(ws, report, "ping-empty", b"", opts.timeout)
    await check_close(ws, report, opts.timeout)
    return extensions


def main(argv):
    opts = parse_args(argv)
    report = Report()
    started = time.monotonic()
    extensions = ""
    try:
        extensions = asyncio.run(run(opts, report))
    except Exception as err:  # a bug here must still end in a summary
        report.add("run", False, started, f"unexpected {type(err).__name__}: {err}")
    passed, failed = report.count(True), report.count(False)
    summary = {
        "client": "python-websockets",
        "version": websockets.__version__,
        "url": opts.url,
        "deflate": opts.deflate,
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
