#!/usr/bin/python3
"""Echo interop check with Autobahn|Python against a WebSocket echo endpoint.

The same checks, options, output and exit codes as echo_client.py, through a
second, independent Python implementation: Debian's python3-autobahn (22.7 on
bookworm; asyncio flavour), run with /usr/bin/python3.

Usage:
  /usr/bin/python3 autobahn_echo_client.py URL [--sizes LIST] [--max-size BYTES]
      [--timeout SECONDS] [--deflate]
      [--server-max-window-bits N] [--client-max-window-bits N]
      [--server-no-context-takeover] [--client-no-context-takeover]

Autobahn's offer cannot carry a value for client_max_window_bits: with
--client-max-window-bits N it offers the bare parameter and then compresses
with a window of N bits (at most what the server allows), which RFC 7692
permits. Exit codes: 0 all passed, 1 a check failed, 2 bad arguments, 3
autobahn cannot be imported.
"""

import asyncio
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import echo_common as common  # noqa: E402 (after the line above)

try:
    import autobahn
    from autobahn.asyncio.websocket import (
        WebSocketClientFactory,
        WebSocketClientProtocol,
    )
    from autobahn.websocket.compress import (
        PerMessageDeflateOffer,
        PerMessageDeflateResponse,
        PerMessageDeflateResponseAccept,
    )
except ImportError as err:  # pragma: no cover - depends on the machine
    print(
        f"autobahn_echo_client.py: cannot import autobahn ({err}); run "
        "scripts/setup-test-deps.sh and use /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(3)


class EchoProtocol(WebSocketClientProtocol):
    """Turns autobahn's callbacks into futures and queues for the checks."""

    def __init__(self):
        super().__init__()
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.closed = loop.create_future()
        self.inbox = asyncio.Queue()
        self.pongs = asyncio.Queue()
        self.extensions_header = ""

    def onConnect(self, response):
        self.extensions_header = response.headers.get("sec-websocket-extensions", "")

    def onOpen(self):
        if not self.opened.done():
            self.opened.set_result(True)

    def onMessage(self, payload, isBinary):
        self.inbox.put_nowait((payload, isBinary))

    def onPong(self, payload):
        self.pongs.put_nowait(payload)

    def onClose(self, wasClean, code, reason):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before open: {code} {reason}"))
        if not self.closed.done():
            self.closed.set_result((wasClean, code, reason))
        self.inbox.put_nowait(None)  # wake a waiting echo check


def make_factory(opts):
    """Return a client factory for opts.url with the requested options."""
    factory = WebSocketClientFactory(opts.url)
    factory.protocol = EchoProtocol
    limit = common.client_max_size(opts)
    options = {
        "maxMessagePayloadSize": limit,
        "maxFramePayloadSize": limit,
        "openHandshakeTimeout": opts.timeout,
        "closeHandshakeTimeout": opts.timeout,
        "autoPingInterval": 0,
    }
    if opts.deflate:
        offer = PerMessageDeflateOffer(
            accept_no_context_takeover=opts.client_no_context_takeover,
            accept_max_window_bits=True,
            request_no_context_takeover=opts.server_no_context_takeover,
            request_max_window_bits=opts.server_max_window_bits or 0,
        )

        def accept(response):
            if not isinstance(response, PerMessageDeflateResponse):
                return None
            bits = opts.client_max_window_bits
            if bits and response.client_max_window_bits:
                bits = min(bits, response.client_max_window_bits)
            return PerMessageDeflateResponseAccept(
                response,
                no_context_takeover=True if opts.client_no_context_takeover else None,
                window_bits=bits or None,
            )

        options["perMessageCompressionOffers"] = [offer]
        options["perMessageCompressionAccept"] = accept
    factory.setProtocolOptions(**options)
    return factory


async def check_echo(proto, report, kind, size, timeout):
    """Send one message and check its echo; False if the stream is lost."""
    name = f"{kind}/{size}"
    started = time.monotonic()
    binary = kind == "binary"
    sent = common.binary_payload(size) if binary else common.text_payload(size)
    proto.sendMessage(sent, isBinary=binary)
    try:
        got = await asyncio.wait_for(proto.inbox.get(), timeout)
    except asyncio.TimeoutError:
        report.add(name, False, started, f"no echo within {timeout} s")
        return False
    if got is None:
        report.add(name, False, started, f"connection closed: {proto.closed.result()}")
        return False
    payload, got_binary = got
    problems = common.echo_problems(
        kind, sent, "binary" if got_binary else "text", bytes(payload)
    )
    report.add(name, not problems, started, "; ".join(problems))
    return True


async def check_ping(proto, report, name, payload, timeout):
    """Ping with payload and expect a pong with the same payload."""
    started = time.monotonic()
    proto.sendPing(payload)
    try:
        got = await asyncio.wait_for(proto.pongs.get(), timeout)
    except asyncio.TimeoutError:
        report.add(name, False, started, f"no pong within {timeout} s")
        return
    ok = bytes(got) == payload
    report.add(name, ok, started, "" if ok else f"pong payload {bytes(got)!r}, want {payload!r}")


async def check_close(proto, report, timeout):
    """Close with 1000 and check that the server's close frame has 1000."""
    started = time.monotonic()
    if proto.closed.done():
        report.add("close", False, started, f"connection already closed: {proto.closed.result()}")
        return
    proto.sendClose(code=1000, reason="wsgate interop done")
    try:
        _clean, code, reason = await asyncio.wait_for(proto.closed, timeout)
    except asyncio.TimeoutError:
        report.add("close", False, started, f"no close frame within {timeout} s")
        return
    if code == 1000:
        report.add("close", True, started, f"reason {reason!r}")
    else:
        report.add("close", False, started, f"server closed with {code} {reason!r}, want 1000")


async def run(opts, report):
    """Run every check over one connection; return the negotiated extensions."""
    factory = make_factory(opts)
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        _transport, proto = await asyncio.wait_for(
            loop.create_connection(factory, factory.host, factory.port), opts.timeout
        )
        await asyncio.wait_for(proto.opened, opts.timeout)
    except Exception as err:  # refused, HTTP error, bad handshake, timeout
        report.add("handshake", False, started, f"{type(err).__name__}: {err}")
        return ""
    report.add("handshake", True, started)
    extensions = proto.extensions_header
    return await common.run_checks(
        proto, report, opts, extensions, any(
            e.EXTENSION_NAME == "permessage-deflate" for e in proto.websocket_extensions_in_use
        ),
        check_echo, check_ping, check_close,
    )


def main(argv):
    return common.main(argv, "autobahn echo interop check", "python-autobahn", autobahn.__version__, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
