#!/usr/bin/env node
// Stand-in echo server for developing and self-testing wsgate's interop
// harnesses (echo_client.js, ../python/echo_client.py, ../interop). Built on
// npm `ws`, which someone else wrote, so it is a reference peer: a client that
// passes against it and against wsgate agrees with both.
//
// Usage:
//   node echo_server.js [--host 127.0.0.1] [--port 0] [--path /echo]
//                       [--max-payload BYTES] [--no-deflate]
//                       [--fault none|flip|opcode|close-code|no-pong|pong-payload]
//
// Every message on --path is echoed with its opcode (text stays text, binary
// stays binary). Pings are answered with a pong carrying the same payload and a
// close frame is answered with the same close code (ws does both). When a
// client offers permessage-deflate it is accepted, honouring the client's
// window-bits parameters, unless --no-deflate is given.
//
// --fault makes the server misbehave on purpose so that tests can prove the
// clients catch it: flip (echo with the last byte changed), opcode (text
// echoed as binary and binary as text), close-code (answer a close with 4000),
// no-pong (never answer pings), pong-payload (pong with a different payload).
//
// When listening, the first line on stdout is:
//   listening ws://HOST:PORT/PATH
// The server runs until it gets SIGTERM or SIGINT, or its stdin closes when
// started with --exit-on-stdin-close (so a crashed parent cannot leak it).
'use strict';

const { WebSocketServer } = require('ws');

const FAULTS = ['none', 'flip', 'opcode', 'close-code', 'no-pong', 'pong-payload'];

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 0,
    path: '/echo',
    maxPayload: 64 * 1024 * 1024,
    deflate: true,
    fault: 'none',
    exitOnStdinClose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--host': opts.host = next(); break;
      case '--port': opts.port = Number(next()); break;
      case '--path': opts.path = next(); break;
      case '--max-payload': opts.maxPayload = Number(next()); break;
      case '--no-deflate': opts.deflate = false; break;
      case '--fault': opts.fault = next(); break;
      case '--exit-on-stdin-close': opts.exitOnStdinClose = true; break;
      default: throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!FAULTS.includes(opts.fault)) {
    throw new Error(`--fault must be one of ${FAULTS.join(', ')}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error('--port must be an integer in [0, 65535]');
  }
  if (!Number.isInteger(opts.maxPayload) || opts.maxPayload <= 0) {
    throw new Error('--max-payload must be a positive integer');
  }
  return opts;
}

// faultyCopy returns the echo payload for the flip fault: the same bytes with
// the last one changed (kept ASCII for text so the frame stays valid UTF-8).
function faultyCopy(data, isBinary) {
  const out = Buffer.from(data);
  if (out.length === 0) return out;
  const last = out.length - 1;
  if (isBinary) {
    out[last] ^= 0xff;
  } else {
    out[last] = out[last] === 0x78 ? 0x79 : 0x78; // 'x' or 'y'
  }
  return out;
}

function handleConnection(ws, opts) {
  if (opts.fault === 'close-code') {
    // ws answers a received close frame by calling close(code, reason) on
    // the instance; replacing it makes the answer carry a wrong code.
    const close = ws.close.bind(ws);
    ws.close = () => close(4000, 'fault: wrong close code');
  }
  if (opts.fault === 'pong-payload') {
    ws.on('ping', (data) => ws.pong(Buffer.concat([Buffer.from('x'), data])));
  }
  ws.on('message', (data, isBinary) => {
    let payload = data;
    let binary = isBinary;
    if (opts.fault === 'flip') payload = faultyCopy(data, isBinary);
    if (opts.fault === 'opcode') binary = !isBinary;
    ws.send(payload, { binary });
  });
  ws.on('error', (err) => {
    process.stderr.write(`echo_server: connection error: ${err.message}\n`);
  });
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`echo_server: ${err.message}\n`);
    process.exit(2);
  }
  const autoPong = opts.fault !== 'no-pong' && opts.fault !== 'pong-payload';
  const wss = new WebSocketServer({
    host: opts.host,
    port: opts.port,
    path: opts.path,
    maxPayload: opts.maxPayload,
    autoPong,
    // threshold 0: compress every message, also the small ones, so a deflate
    // client sees compressed frames of every size.
    perMessageDeflate: opts.deflate ? { threshold: 0 } : false,
  });
  wss.on('connection', (ws) => handleConnection(ws, opts));
  wss.on('listening', () => {
    const { address, port } = wss.address();
    process.stdout.write(`listening ws://${address}:${port}${opts.path}\n`);
  });
  wss.on('error', (err) => {
    process.stderr.write(`echo_server: ${err.message}\n`);
    process.exit(1);
  });
  const stop = () => {
    for (const client of wss.clients) client.terminate();
    wss.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.exitOnStdinClose) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

main();
