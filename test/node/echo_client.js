#!/usr/bin/env node
// Echo interop check with npm `ws` (a client someone else wrote) against any
// WebSocket echo endpoint, wsgate's /echo in particular.
//
// Usage:
//   node echo_client.js URL [--sizes LIST] [--max-size BYTES]
//                           [--timeout-ms MS] [--deflate]
//                           [--server-max-window-bits N] [--client-max-window-bits N]
//                           [--server-no-context-takeover] [--client-no-context-takeover]
//
// LIST is comma separated sizes in bytes, with optional KiB/MiB suffix
// (default 0,1,125,126,65535,65536,1MiB,16MiB; env WSGATE_ECHO_SIZES). Sizes
// above --max-size (env WSGATE_ECHO_MAX_SIZE) are skipped, so a test can pass
// the server's message limit. For each size the client sends a text message
// (valid UTF-8 mixing 1- to 4-byte characters) and a binary message, waits for
// each echo and checks it byte for byte and by opcode. Then it pings with a
// payload and expects a pong with the same payload (also an empty ping), and
// closes with 1000, expecting the server's close frame to carry 1000.
//
// --deflate offers permessage-deflate (every message compressed: threshold 0)
// with the given window-bits and no-context-takeover parameters, and fails if
// the server does not accept it.
//
// Each check prints one line; the last line is a JSON summary. The exit code is
// 0 only if every check passed (and at least one ran), 1 if one failed, 2 on
// bad arguments.
'use strict';

const WebSocket = require('ws');
const { Inbox, withTimeout, parseSize } = require('./inbox');

const DEFAULT_SIZES = '0,1,125,126,65535,65536,1MiB,16MiB';

function parseWindowBits(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 8 || n > 15) {
    throw new Error(`${name} must be an integer in [8, 15]`);
  }
  return n;
}

function parseArgs(argv) {
  const opts = {
    url: '',
    sizes: (process.env.WSGATE_ECHO_SIZES || DEFAULT_SIZES).split(',').map(parseSize),
    maxSize: process.env.WSGATE_ECHO_MAX_SIZE
      ? parseSize(process.env.WSGATE_ECHO_MAX_SIZE) : Infinity,
    timeoutMs: 20000,
    deflate: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--sizes': opts.sizes = next().split(',').map(parseSize); break;
      case '--max-size': opts.maxSize = parseSize(next()); break;
      case '--timeout-ms': opts.timeoutMs = Number(next()); break;
      case '--deflate': opts.deflate = true; break;
      case '--server-max-window-bits':
        opts.serverMaxWindowBits = parseWindowBits(arg, next()); break;
      case '--client-max-window-bits':
        opts.clientMaxWindowBits = parseWindowBits(arg, next()); break;
      case '--server-no-context-takeover': opts.serverNoContextTakeover = true; break;
      case '--client-no-context-takeover': opts.clientNoContextTakeover = true; break;
      default:
        if (arg.startsWith('-') || opts.url) throw new Error(`unexpected argument ${arg}`);
        opts.url = arg;
    }
  }
  if (!opts.url) throw new Error('usage: echo_client.js URL [options]');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
  return opts;
}

// textPayload returns exactly n bytes of valid UTF-8 mixing 1-, 2-, 3- and
// 4-byte characters; the tail that does not fit a whole pattern is ASCII.
function textPayload(n) {
  const pattern = Buffer.from('wsgate echo: caf\u00e9 \u20ac \u{1F600} \u00fc\u00df\n', 'utf8');
  const out = Buffer.alloc(n, 0x61);
  const whole = Math.floor(n / pattern.length);
  for (let i = 0; i < whole; i++) pattern.copy(out, i * pattern.length);
  return out;
}

// binaryPayload returns n deterministic pseudo-random bytes (xorshift32), so
// a failing size can be replayed and deflate sees incompressible data.
function binaryPayload(n) {
  const out = Buffer.alloc(n);
  let x = (n * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

// WsInbox feeds a ws connection's messages ({ data, isBinary }) and
// failures into an Inbox.
class WsInbox extends Inbox {
  constructor(ws) {
    super('echo');
    ws.on('message', (data, isBinary) => this.push({ data, isBinary }));
    ws.on('error', (err) => this.fail(err));
    ws.on('close', (code) => this.fail(new Error(`connection closed (code ${code})`)));
  }
}

class Report {
  constructor() {
    this.checks = [];
  }

  add(name, ok, started, detail) {
    const check = { name, ok, ms: Date.now() - started };
    if (detail) check[ok ? 'detail' : 'error'] = detail;
    this.checks.push(check);
    const status = ok ? 'PASS' : 'FAIL';
    process.stdout.write(`${status} ${name} (${check.ms} ms)${detail ? ': ' + detail : ''}\n`);
  }

  skip(name, why) {
    this.checks.push({ name, ok: null, skipped: why });
    process.stdout.write(`SKIP ${name}: ${why}\n`);
  }

  count(pred) {
    return this.checks.filter(pred).length;
  }
}

function openSocket(opts) {
  const largest = Math.max(1, ...opts.sizes.filter((s) => s <= opts.maxSize));
  let perMessageDeflate = false;
  if (opts.deflate) {
    perMessageDeflate = { threshold: 0 };
    if (opts.serverMaxWindowBits) perMessageDeflate.serverMaxWindowBits = opts.serverMaxWindowBits;
    if (opts.clientMaxWindowBits) perMessageDeflate.clientMaxWindowBits = opts.clientMaxWindowBits;
    if (opts.serverNoContextTakeover) perMessageDeflate.serverNoContextTakeover = true;
    if (opts.clientNoContextTakeover) perMessageDeflate.clientNoContextTakeover = true;
  }
  // Room for deflate's growth of incompressible data (zlib with a small
  // window grows 16 MiB of random bytes by ~35 KB; its worst-case bound is
  // ~14%): this client's own limit is not what is tested.
  const maxPayload = largest + Math.ceil(largest / 8) + 65536;
  const ws = new WebSocket(opts.url, {
    perMessageDeflate,
    maxPayload,
    handshakeTimeout: opts.timeoutMs,
  });
  const inbox = new WsInbox(ws);
  const handshake = { extensions: '' };
  ws.once('upgrade', (res) => {
    handshake.extensions = res.headers['sec-websocket-extensions'] || '';
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(handshake));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`handshake answered HTTP ${res.statusCode}`));
    });
  });
  return { ws, inbox, opened, handshake };
}

async function checkEcho(ws, inbox, report, kind, size, timeoutMs) {
  const name = `${kind}/${size}`;
  const started = Date.now();
  const isBinary = kind === 'binary';
  const sent = isBinary ? binaryPayload(size) : textPayload(size);
  try {
    ws.send(sent, { binary: isBinary });
    const got = await inbox.next(timeoutMs);
    const problems = [];
    if (got.isBinary !== isBinary) {
      problems.push(`opcode: sent ${kind}, echo was ${got.isBinary ? 'binary' : 'text'}`);
    }
    if (!sent.equals(got.data)) {
      problems.push(`payload: sent ${sent.length} bytes, echo ${got.data.length} bytes, ` +
        `first difference at byte ${firstDifference(sent, got.data)}`);
    }
    report.add(name, problems.length === 0, started, problems.join('; '));
    return true;
  } catch (err) {
    report.add(name, false, started, err.message);
    return false; // the stream is out of step or gone: stop sending
  }
}

async function checkPing(ws, report, name, payload, timeoutMs) {
  const started = Date.now();
  const pong = new Promise((resolve) => ws.once('pong', resolve));
  try {
    ws.ping(payload);
    const got = await withTimeout(pong, timeoutMs, 'no pong');
    const ok = payload.equals(got);
    report.add(name, ok, started, ok ? '' :
      `pong payload ${JSON.stringify(got.toString('latin1'))}, ` +
      `want ${JSON.stringify(payload.toString('latin1'))}`);
  } catch (err) {
    report.add(name, false, started, err.message);
  }
}

async function checkClose(ws, report, timeoutMs) {
  const started = Date.now();
  if (ws.readyState !== WebSocket.OPEN) {
    report.add('close', false, started, `connection not open (readyState ${ws.readyState})`);
    return;
  }
  const closed = new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  try {
    ws.close(1000, 'wsgate interop done');
    const got = await withTimeout(closed, timeoutMs, 'no close frame');
    const ok = got.code === 1000;
    report.add('close', ok, started, ok ? `reason ${JSON.stringify(got.reason)}` :
      `server closed with ${got.code} ${JSON.stringify(got.reason)}, want 1000`);
  } catch (err) {
    report.add('close', false, started, err.message);
    ws.terminate();
  }
}

async function run(opts, report) {
  const { ws, inbox, opened, handshake } = openSocket(opts);
  const started = Date.now();
  try {
    await withTimeout(opened, opts.timeoutMs, 'no handshake');
  } catch (err) {
    report.add('handshake', false, started, err.message);
    ws.terminate();
    return '';
  }
  report.add('handshake', true, started, '');
  if (opts.deflate) {
    const ext = handshake.extensions;
    report.add('deflate-negotiated', ws.extensions.includes('permessage-deflate'), Date.now(),
      ext ? `Sec-WebSocket-Extensions: ${ext}` : 'server accepted no extension');
  }
  let inStep = true;
  for (const size of opts.sizes) {
    for (const kind of ['text', 'binary']) {
      if (size > opts.maxSize) {
        report.skip(`${kind}/${size}`, `over max size ${opts.maxSize}`);
      } else if (!inStep) {
        report.skip(`${kind}/${size}`, 'an earlier echo failed');
      } else {
        inStep = await checkEcho(ws, inbox, report, kind, size, opts.timeoutMs);
      }
    }
  }
  if (ws.readyState === WebSocket.OPEN) {
    await checkPing(ws, report, 'ping', Buffer.from('wsgate-ping \u00e9 0123456789'), opts.timeoutMs);
    await checkPing(ws, report, 'ping-empty', Buffer.alloc(0), opts.timeoutMs);
  }
  await checkClose(ws, report, opts.timeoutMs);
  return handshake.extensions;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`echo_client: ${err.message}\n`);
    process.exit(2);
  }
  const report = new Report();
  const started = Date.now();
  let extensions = '';
  try {
    extensions = await run(opts, report);
  } catch (err) {
    report.add('run', false, started, `unexpected: ${err.stack || err}`);
  }
  const passed = report.count((c) => c.ok === true);
  const failed = report.count((c) => c.ok === false);
  const summary = {
    client: 'node-ws',
    version: require('ws/package.json').version,
    url: opts.url,
    deflate: opts.deflate,
    extensions,
    ok: failed === 0 && passed > 0,
    passed,
    failed,
    skipped: report.count((c) => c.ok === null),
    ms: Date.now() - started,
    failures: report.checks.filter((c) => c.ok === false),
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = summary.ok ? 0 : 1;
}

main();
