#!/usr/bin/env node
// wss echo check with npm `ws` (a client someone else wrote) against any
// WebSocket echo endpoint over TLS, wsgate's /echo served with -tls-cert in
// particular.
//
// Usage:
//   node wss_echo_client.js wss://HOST:PORT/PATH --ca FILE [--clients N]
//                           [--sizes LIST] [--big-size BYTES] [--token TOKEN]
//                           [--expect-serial HEX] [--timeout-ms MS]
//
// --ca is a PEM file with the certificate(s) to trust (the test's self-signed
// certificate); nothing else is trusted and verification is never turned off.
// --clients connections (default 20) are opened at the same time and the
// check waits until every one is open before any echoes, so all of them are
// connected at once. Each then sends, for every size in LIST (default
// 0,1,125,126,65535,65536), a text message (valid UTF-8 mixing 1- to 4-byte
// characters) and a binary message, and checks each echo byte for byte and by
// opcode; the first client also echoes one --big-size message (default 1 MiB,
// 0 skips it). Finally every client closes with 1000 and expects 1000 back.
//
// --token sends "Authorization: Bearer TOKEN" with every upgrade request.
// --expect-serial checks that the server presented a certificate with this
// serial number (hex, as Node prints it; case and leading zeros ignored).
//
// Each failed check prints one line; the last line is a JSON summary. The
// exit code is 0 only if every check passed (and at least one ran), 1 if one
// failed, 2 on bad arguments.
'use strict';

const fs = require('fs');
const WebSocket = require('ws');
const { withTimeout, parseSize } = require('./inbox');

function parseArgs(argv) {
  const opts = {
    url: '', ca: '', clients: 20, sizes: [0, 1, 125, 126, 65535, 65536],
    bigSize: 1 << 20, token: '', expectSerial: '', timeoutMs: 30000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--ca': opts.ca = next(); break;
      case '--clients': opts.clients = Number(next()); break;
      case '--sizes': opts.sizes = next().split(',').map(parseSize); break;
      case '--big-size': opts.bigSize = parseSize(next()); break;
      case '--token': opts.token = next(); break;
      case '--expect-serial': opts.expectSerial = next(); break;
      case '--timeout-ms': opts.timeoutMs = Number(next()); break;
      default:
        if (arg.startsWith('-') || opts.url) throw new Error(`unexpected argument ${arg}`);
        opts.url = arg;
    }
  }
  if (!opts.url.startsWith('wss://')) throw new Error('a wss:// URL is required');
  if (!opts.ca) throw new Error('--ca is required');
  if (!Number.isInteger(opts.clients) || opts.clients < 1) throw new Error('--clients must be a positive integer');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
  return opts;
}

// textOf returns a string of exactly n UTF-8 bytes mixing 1-, 2-, 3- and
// 4-byte characters.
function textOf(n) {
  const pieces = ['a', 'é', '€', '😀'];
  let s = '';
  let len = 0;
  for (let i = 0; len < n; i++) {
    let p = pieces[i % pieces.length];
    if (len + Buffer.byteLength(p) > n) p = 'a';
    s += p;
    len += Buffer.byteLength(p);
  }
  return s;
}

function binaryOf(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return b;
}

function normSerial(s) {
  return String(s || '').toLowerCase().replace(/^0+/, '');
}

// Client is one connection with a queue of expected echoes.
class Client {
  constructor(id, opts, ca) {
    this.id = id;
    this.opts = opts;
    const headers = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    this.ws = new WebSocket(opts.url, { ca, headers, perMessageDeflate: false, maxPayload: 64 << 20 });
    this.waiters = [];
    this.ws.on('message', (data, isBinary) => {
      const w = this.waiters.shift();
      if (w) w.resolve({ data, isBinary });
    });
    this.ws.on('error', (err) => this.failAll(err));
    this.ws.on('close', (code) => this.failAll(new Error(`closed with ${code}`)));
  }

  failAll(err) {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        const cert = this.ws._socket.getPeerCertificate();
        resolve(cert && cert.serialNumber);
      });
      this.ws.once('error', reject);
    });
  }

  next() {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async echo(payload, binary) {
    const got = this.next();
    this.ws.send(payload, { binary });
    const { data, isBinary } = await got;
    if (isBinary !== binary) throw new Error(`echo came back as ${isBinary ? 'binary' : 'text'}`);
    const want = binary ? payload : Buffer.from(payload, 'utf8');
    if (!Buffer.from(data).equals(want)) throw new Error(`echo of ${want.length} bytes differs (got ${data.length})`);
  }

  close() {
    return new Promise((resolve, reject) => {
      this.ws.removeAllListeners('close');
      this.ws.once('close', (code) => (code === 1000 ? resolve() : reject(new Error(`server closed with ${code}`))));
      this.ws.close(1000, 'done');
    });
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`wss_echo_client: ${err.message}`);
    process.exit(2);
  }
  const ca = fs.readFileSync(opts.ca);
  const start = Date.now();
  const summary = {
    client: 'node-ws-wss', version: require('ws/package.json').version, clients: opts.clients,
    ok: false, passed: 0, failed: 0, ms: 0, failures: [],
  };
  const fail = (name, err) => {
    summary.failed++;
    summary.failures.push({ name, error: String(err && err.message || err) });
    console.log(`FAIL ${name}: ${err && err.message || err}`);
  };
  const clients = [];
  for (let i = 0; i < opts.clients; i++) clients.push(new Client(i, opts, ca));
  const serials = await Promise.allSettled(clients.map((c) => withTimeout(c.opened(), opts.timeoutMs, `client ${c.id} open`)));
  const open = [];
  serials.forEach((r, i) => {
    if (r.status === 'rejected') return fail(`open/${i}`, r.reason);
    if (opts.expectSerial && normSerial(r.value) !== normSerial(opts.expectSerial)) {
      return fail(`serial/${i}`, `certificate serial ${r.value}, want ${opts.expectSerial}`);
    }
    summary.passed++;
    open.push(clients[i]);
  });
  // Every connection is open at this point; now they all echo at once.
  const runs = open.map(async (c) => {
    const sizes = c.id === 0 && opts.bigSize > 0 ? [...opts.sizes, opts.bigSize] : opts.sizes;
    for (const n of sizes) {
      for (const binary of [false, true]) {
        const name = `echo/${c.id}/${binary ? 'binary' : 'text'}/${n}`;
        try {
          await withTimeout(c.echo(binary ? binaryOf(n, c.id) : textOf(n), binary), opts.timeoutMs, name);
          summary.passed++;
        } catch (err) {
          fail(name, err);
          return;
        }
      }
    }
    try {
      await withTimeout(c.close(), opts.timeoutMs, `close/${c.id}`);
      summary.passed++;
    } catch (err) {
      fail(`close/${c.id}`, err);
    }
  });
  await Promise.all(runs);
  for (const c of clients) c.ws.terminate();
  summary.ms = Date.now() - start;
  summary.ok = summary.failed === 0 && summary.passed > 0;
  console.log(JSON.stringify(summary));
  process.exit(summary.ok ? 0 : 1);
}

main();
