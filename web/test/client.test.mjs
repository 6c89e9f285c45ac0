// The client against a live wsgate (built from this repository): messages
// between two clients, join/leave/publish promises, backoff, the offline
// queue, close codes on restarts and policy closes, tokens.

import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WsgateClient, WsgateError } from '../wsgate.js';
import { WebSocket, Wsgate, freePort, hs256, record, sleep, waitFor } from './helpers.mjs';

const clients = [];
const servers = [];

// client returns a client for url that the test file closes at its end.
function client(url, options = {}) {
  const c = new WsgateClient(url, { WebSocket, minDelay: 50, maxDelay: 1000, ...options });
  clients.push(c);
  return c;
}

async function server(args = ['-dev']) {
  const s = await new Wsgate(args).start();
  servers.push(s);
  return s;
}

after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop('SIGKILL');
});

test('two clients chat both ways; join, publish and leave promises settle on replies', async () => {
  const s = await server();
  const alice = client(s.wsURL + '?user=alice');
  const bob = client(s.wsURL + '?user=bob');
  const ea = record(alice);
  const eb = record(bob);
  await Promise.all([alice.connect(), bob.connect()]);
  assert.equal(alice.state, 'open');

  const joined = await alice.join('chat.lobby');
  assert.deepEqual({ room: joined.room, recovered: joined.recovered }, { room: 'chat.lobby', recovered: false });
  await bob.join('chat.lobby');
  assert.equal(await alice.join('chat.lobby'), joined, 'a second join of a joined room resolves at once');

  const pub = await alice.publish('chat.lobby', { text: 'hi bob', n: 1 });
  assert.equal(pub.room, 'chat.lobby');
  assert.equal(typeof pub.acked, 'boolean');
  await waitFor(() => eb.message.length === 1, 'bob gets alice\'s message');
  assert.deepEqual(eb.message[0].data, { text: 'hi bob', n: 1 });
  assert.equal(eb.message[0].from, 'alice');
  assert.equal(eb.message[0].room, 'chat.lobby');

  for (let i = 0; i < 20; i++) bob.publish('chat.lobby', i);
  await waitFor(() => ea.message.length === 20, 'alice gets bob\'s 20 messages');
  assert.deepEqual(ea.message.map((m) => m.data), [...Array(20).keys()], 'in order');
  assert.ok(ea.message.every((m) => m.from === 'bob'));
  assert.equal(eb.message.length, 1, 'no echo of one\'s own messages');

  // A refused join rejects with the server's code and leaves the connection up.
  await assert.rejects(alice.join('no spaces allowed'), (err) => err instanceof WsgateError && err.code === 'bad_request');
  assert.ok(ea.error.some((e) => e.code === 'bad_request'));
  assert.equal(alice.state, 'open');

  // After leave resolves, nothing more arrives from the room.
  assert.deepEqual(await bob.leave('chat.lobby'), { room: 'chat.lobby' });
  await bob.join('chat.marker');
  await alice.publish('chat.lobby', 'after leave');
  await alice.publish('chat.marker', 'marker');
  await waitFor(() => eb.message.some((m) => m.data === 'marker'), 'the marker');
  assert.ok(!eb.message.some((m) => m.data === 'after leave'));
});

test('binary messages from the admin API arrive as bytes', async () => {
  const s = await server();
  const c = client(s.wsURL);
  const ev = record(c);
  await c.connect();
  await c.join('bin.room');
  const res = await fetch(s.adminURL + '/api/publish', {
    method: 'POST',
    body: JSON.stringify({ room: 'bin.room', payload: Buffer.from([0, 1, 2, 255]).toString('base64'), binary: true }),
  });
  assert.equal(res.status, 200);
  await waitFor(() => ev.message.length === 1, 'the binary message');
  assert.equal(ev.message[0].binary, true);
  assert.deepEqual([...ev.message[0].data], [0, 1, 2, 255]);
});

test('backoff grows by factor, with jitter, up to maxDelay, while the server is down', async () => {
  const port = await freePort();
  const o = { minDelay: 20, maxDelay: 300, factor: 2, jitter: 0.5 };
  const c = client(`ws://127.0.0.1:${port}/ws`, o);
  const ev = record(c);
  c.connect().catch(() => {});
  await waitFor(() => ev.state.filter((e) => e.state === 'reconnecting').length >= 8, '8 retries');
  c.close();
  const delays = ev.state.filter((e) => e.state === 'reconnecting').map((e) => e.delay);
  delays.slice(0, 8).forEach((d, n) => {
    const base = Math.min(o.maxDelay, o.minDelay * o.factor ** n);
    assert.ok(d <= base && d >= base * (1 - o.jitter), `retry ${n}: delay ${d} outside [${base * (1 - o.jitter)}, ${base}]`);
  });
  assert.ok(new Set(delays).size > 1, 'jittered');
  assert.ok(ev.error.some((e) => e.code === 'transport'), 'failed attempts are reported');
});

test('publishes while offline wait in a bounded queue and go out on connect', async () => {
  const port = await freePort();
  // Retries far apart: the client connects when told to (retryNow), after
  // the listener below has joined, not whenever the server comes up.
  const c = client(`ws://127.0.0.1:${port}/ws`, { queueLimit: 5, minDelay: 600000, maxDelay: 600000 });
  c.connect().catch(() => {});
  const sent = [];
  const rejected = [];
  for (let i = 0; i < 8; i++) {
    const p = c.publish('queue.room', i);
    sent.push(p);
    p.catch((err) => rejected.push([i, err.code]));
  }
  await waitFor(() => rejected.length === 3, 'three rejections');
  assert.deepEqual(rejected, [[5, 'queue_full'], [6, 'queue_full'], [7, 'queue_full']]);
  assert.equal(c.queued, 5);

  // The server comes up on that port; a listener sees the five in order.
  const s = new Wsgate(['-dev']);
  s.addr = `127.0.0.1:${port}`;
  servers.push(await s.start());
  const listener = client(s.wsURL);
  const ev = record(listener);
  await listener.connect();
  await listener.join('queue.room');
  c.retryNow();
  await Promise.all(sent.slice(0, 5));
  await waitFor(() => ev.message.length === 5, 'five queued messages');
  assert.deepEqual(ev.message.map((m) => m.data), [0, 1, 2, 3, 4]);
  assert.equal(c.queued, 0);
});

for (const [code, args] of [[1012, ['-dev', '-restart']], [1001, ['-dev']]]) {
  test(`a server restart (close ${code}) is followed by a quick reconnect and a rejoin of every room`, async () => {
    const s = await server(args);
    const c = client(s.wsURL + '?user=carol', { minDelay: 200 });
    const ev = record(c);
    await c.connect();
    await c.join('r.one');
    await c.join('r.two');

    await s.stop('SIGTERM');
    const closed = await waitFor(() => ev.state.find((e) => e.state === 'reconnecting'), 'reconnecting');
    assert.equal(closed.code, code);
    assert.ok(closed.delay <= 200, `first retry after ${closed.delay} ms, want at most minDelay`);
    // Published while the server is away: queued, sent after the rejoin.
    const queued = c.publish('r.two', 'sent while down');

    await s.start();
    await waitFor(() => ev.joined.filter((j) => j.rejoin).length === 2, 'both rooms rejoined');
    assert.deepEqual(ev.joined.filter((j) => j.rejoin).map((j) => j.room).sort(), ['r.one', 'r.two']);
    assert.equal(c.state, 'open');

    const other = client(s.wsURL + '?user=dave');
    const eo = record(other);
    await other.connect();
    await other.join('r.two');
    await queued;
    await other.publish('r.one', 'after restart');
    await waitFor(() => ev.message.some((m) => m.data === 'after restart'), 'a message after the restart');
  });
}

test('a 1008 policy close is not followed by a retry storm', async () => {
  const s = await server(['-dev', '-rate-msgs', '1', '-rate-msgs-burst', '1', '-rate-close-after', '2']);
  const c = client(s.wsURL, { policyDelay: 5000 });
  const ev = record(c);
  await c.connect();
  for (let i = 0; i < 6; i++) c.publish('rate.room', i).catch(() => {});
  const rc = await waitFor(() => ev.state.find((e) => e.state === 'reconnecting'), 'the policy close');
  assert.equal(rc.code, 1008);
  assert.ok(rc.delay >= 5000, `retry after ${rc.delay} ms, want at least policyDelay`);
  assert.ok(ev.error.some((e) => e.code === 'rate_limited'), 'the rate-limit errors before the close are reported');
  // A busy machine can only make a retry later: none may start this soon.
  await sleep(1000);
  assert.equal(ev.state.filter((e) => e.state === 'connecting').length, 1, 'no retry during the policy delay');
  c.close();
});

// A server that takes HS256 tokens: no -dev.
async function authServer(extra = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-web-auth-'));
  const secret = 'web-client-test-secret-0123456789abcdef';
  writeFileSync(path.join(dir, 'secret'), secret);
  const s = await server(['-auth-secret-file', path.join(dir, 'secret'), '-auth-leeway', '0s', ...extra]);
  const token = (sub, seconds) =>
    hs256(secret, { sub, exp: Math.floor(Date.now() / 1000) + seconds, rooms: ['>'], publish: ['>'] });
  return { s, token };
}

test('a token function is called before expiry and on every reconnect; rooms survive both', async () => {
  const { s, token } = await authServer(['-restart']);
  let calls = 0;
  const c = client(s.wsURL, {
    token: async () => {
      calls++;
      return token('erin', 8);
    },
  });
  const ev = record(c);
  await c.connect();
  await c.join('tok.room');
  assert.equal(calls, 1);

  // Each 8 s token is renewed about 4 s before its exp (half its life), on
  // a new connection: 4 s for the switch, plenty on a busy machine.
  await waitFor(() => ev.state.filter((e) => e.refreshed).length >= 2, 'two token refreshes', 60000);
  assert.ok(calls >= 3);
  assert.ok(!ev.state.some((e) => e.state === 'reconnecting'), 'refreshes do not drop the service: ' + JSON.stringify(ev.state));

  const other = client(s.wsURL, { token: token('frank', 600) });
  await other.connect();
  await other.publish('tok.room', 'after refresh');
  await waitFor(() => ev.message.some((m) => m.data === 'after refresh'), 'a message after the refreshes');

  const before = calls;
  await s.stop('SIGTERM');
  await s.start();
  await waitFor(() => ev.joined.some((j) => j.rejoin && j.room === 'tok.room') && c.state === 'open', 'the rejoin after a restart');
  assert.ok(calls > before, 'the token function was called for the reconnect');
});

test('a static token that expires ends the client with 4001 and no retry', async () => {
  const { s, token } = await authServer();
  const c = client(s.wsURL, { token: token('gina', 2) });
  const ev = record(c);
  await c.connect();
  const joining = c.join('exp.room');
  await joining;
  const closed = await waitFor(() => ev.state.find((e) => e.state === 'closed'), 'the close', 60000);
  assert.equal(closed.code, 4001);
  assert.ok(ev.error.some((e) => e.code === 'token_expired'));
  await assert.rejects(c.publish('exp.room', 1), (err) => err.code === 'closed');
  assert.ok(!ev.state.some((e) => e.state === 'reconnecting'));
});

test('tokens travel in the subprotocol, the query or the Authorization header', async () => {
  const { s, token } = await authServer();
  for (const tokenIn of ['protocol', 'query', 'header']) {
    const c = client(s.wsURL, { token: token('hana', 600), tokenIn });
    await c.connect();
    await c.join('way.' + tokenIn);
    c.close();
  }
  // No token: refused at the handshake, so the client keeps retrying.
  const c = client(s.wsURL);
  const ev = record(c);
  c.connect().catch(() => {});
  await waitFor(() => ev.state.filter((e) => e.state === 'reconnecting').length >= 2, 'retries without a token');
  c.close();
});
