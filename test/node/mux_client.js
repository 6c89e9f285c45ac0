#!/usr/bin/env node
// Multi-room endpoint check with npm `ws` (a client someone else wrote)
// against wsgate's /ws: JSON join, publish, leave, errors, close codes.
//
// Usage:
//   node mux_client.js URL [--timeout-ms MS]
//
// URL is the /ws endpoint (ws://127.0.0.1:PORT/ws). Two clients, A and B:
// both join chat.node (replies carry the ids); A publishes a JSON object
// with an id, is told it was published, and B receives it as it was sent;
// B publishes 50 numbers that A receives
// in order; a malformed command gets a bad_request error and the
// connection stays up; A leaves and gets nothing more from chat.node
// (checked with a marker in another room); a binary message gets close
// 1003; B closes with 1000. The server must not echo a publisher's own
// messages (wsgate's default).
//
// Each check prints one line; the last line is a JSON summary. Exit code 0
// only if every check passed, 1 if one failed, 2 on bad arguments.
'use strict';

const WebSocket = require('ws');
const { Inbox, withTimeout } = require('./inbox');
const assert = require('node:assert/strict');

function parseArgs(argv) {
  const opts = { url: '', timeoutMs: 10000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--timeout-ms' && i + 1 < argv.length) {
      opts.timeoutMs = Number(argv[++i]);
    } else if (!arg.startsWith('-') && !opts.url) {
      opts.url = arg;
    } else {
      throw new Error(`unexpected argument ${arg}`);
    }
  }
  if (!opts.url) throw new Error('usage: mux_client.js URL [--timeout-ms MS]');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
  return opts;
}

// Client wraps a ws connection: next() resolves with the next message
// parsed as JSON (text only), or rejects on timeout or failure.
class Client extends Inbox {
  constructor(url, timeoutMs) {
    super('message');
    this.ws = new WebSocket(url);
    this.timeoutMs = timeoutMs;
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.fail(new Error(`connection closed (code ${code})`));
      });
    });
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.fail(new Error('server sent a binary message'));
        return;
      }
      let msg;
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch (err) {
        this.fail(new Error(`server sent text that is not JSON: ${data}`));
        return;
      }
      this.push(msg);
    });
    this.ws.on('error', (err) => this.fail(err));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  next() {
    return super.next(this.timeoutMs);
  }

  async expect(want) {
    const got = await this.next();
    assert.deepEqual(got, want);
    return got;
  }
}

async function run(opts, check) {
  const a = new Client(opts.url, opts.timeoutMs);
  const b = new Client(opts.url, opts.timeoutMs);
  const ok = await check('open', async () => {
    await withTimeout(Promise.all([a.opened, b.opened]), opts.timeoutMs, 'no handshake');
  });
  if (!ok) {
    a.ws.terminate();
    b.ws.terminate();
    return;
  }
  await check('join', async () => {
    a.send({ type: 'join', room: 'chat.node', id: 'j1' });
    await a.expect({ type: 'joined', room: 'chat.node', id: 'j1' });
    b.send({ type: 'join', room: 'chat.node', id: 2 });
    await b.expect({ type: 'joined', room: 'chat.node', id: 2 });
  });
  await check('publish-object', async () => {
    const data = { hello: 'node', n: [1, 2.5, null], nested: { 'caf\u00e9': '\u{1F600}' } };
    a.send({ type: 'publish', room: 'chat.node', data, id: 'p1' });
    await a.expect({ type: 'published', room: 'chat.node', id: 'p1' });
    await b.expect({ type: 'message', room: 'chat.node', data });
  });
  await check('publish-order', async () => {
    for (let i = 0; i < 50; i++) b.send({ type: 'publish', room: 'chat.node', data: i });
    for (let i = 0; i < 50; i++) await a.expect({ type: 'message', room: 'chat.node', data: i });
  });
  await check('bad-request', async () => {
    a.send('this is not json');
    const err = await a.next();
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'bad_request');
    assert.equal(typeof err.message, 'string');
    a.send({ type: 'leave', room: 'never.joined', id: 'n' });
    const nj = await a.next();
    assert.deepEqual([nj.type, nj.code, nj.room, nj.id], ['error', 'not_joined', 'never.joined', 'n']);
  });
  await check('leave', async () => {
    a.send({ type: 'leave', room: 'chat.node', id: 'l1' });
    await a.expect({ type: 'left', room: 'chat.node', id: 'l1' });
    b.send({ type: 'publish', room: 'chat.node', data: 'after leave' });
    a.send({ type: 'join', room: 'chat.other' });
    await a.expect({ type: 'joined', room: 'chat.other' });
    b.send({ type: 'publish', room: 'chat.other', data: 'marker' });
    await a.expect({ type: 'message', room: 'chat.other', data: 'marker' });
  });
  await check('binary-closes-1003', async () => {
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const got = await withTimeout(a.closed, opts.timeoutMs, 'no close');
    assert.equal(got.code, 1003);
  });
  await check('close-1000', async () => {
    b.ws.close(1000, 'done');
    const got = await withTimeout(b.closed, opts.timeoutMs, 'no close');
    assert.equal(got.code, 1000);
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`mux_client: ${err.message}\n`);
    process.exit(2);
  }
  const checks = [];
  const started = Date.now();
  const check = async (name, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      checks.push({ name, ok: true });
      process.stdout.write(`PASS ${name} (${Date.now() - t0} ms)\n`);
      return true;
    } catch (err) {
      checks.push({ name, ok: false, error: err.message });
      process.stdout.write(`FAIL ${name} (${Date.now() - t0} ms): ${err.message}\n`);
      return false;
    }
  };
  try {
    await run(opts, check);
  } catch (err) {
    checks.push({ name: 'run', ok: false, error: `unexpected: ${err.stack || err}` });
  }
  const passed = checks.filter((c) => c.ok).length;
  const failed = checks.length - passed;
  const summary = {
    client: 'node-ws-mux',
    version: require('ws/package.json').version,
    url: opts.url,
    ok: failed === 0 && passed > 0,
    passed,
    failed,
    ms: Date.now() - started,
    failures: checks.filter((c) => !c.ok),
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = summary.ok ? 0 : 1;
  setTimeout(() => process.exit(process.exitCode), 100).unref();
}

main();
