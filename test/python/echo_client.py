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

import asyncio
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import echo_common as common  # noqa: E402 (after the line above)

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
    sent = common.binary_payload(size) if kind == "binary" else common.text_payload(size)
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
    got_kind = "text" if isinstance(got, str) else "binary"
    got_bytes = got.encode() if isinstance(got, str) else got
    problems = common.echo_problems(kind, sent, got_kind, got_bytes)
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
    started = time.monotonic()
    try:
        ws = await websockets.connect(
            opts.url,
            compression=None,
            extensions=[deflate_factory(opts)] if opts.deflate else None,
            max_size=common.client_max_size(opts),
            ping_interval=None,
            open_timeout=opts.timeout,
            close_timeout=opts.timeout,
        )
    except Exception as err:  # refused, HTTP error, bad handshake, timeout
        report.add("handshake", False, started, f"{type(err).__name__}: {err}")
        return ""
    report.add("handshake", True, started)
    extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    return await common.run_checks(
        ws, report, opts, extensions, any(e.name == "permessage-deflate" for e in ws.extensions),
        check_echo, check_ping, check_close,
    )


def main(argv):
    return common.main(argv, "websockets echo interop check", "python-websockets", websockets.__version__, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
