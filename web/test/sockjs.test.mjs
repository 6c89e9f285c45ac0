// The SockJS transport: sockjs-client (npm) under the client, against the
// stand-in speaking the /ws protocol over a SockJS server (npm sockjs),
// over WebSocket and over XHR streaming.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WsgateClient } from '../wsgate.js';
import { StandIn } from './standin.mjs';
import { record, requireTestDep, waitFor } from './helpers.mjs';

const SockJS = requireTestDep('sockjs-client');
const closers = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

for (const transport of ['websocket', 'xhr-streaming']) {
  test(`over SockJS (${transport}): token in the query, messages both ways, rejoin with resume`, async () => {
    const s = await new StandIn().listenSockJS();
    closers.push(() => s.close());
    const c = new WsgateClient(s.url, { transport: 'sockjs', SockJS, sockjsOptions: { transports: [transport] }, token: 'tok-123', minDelay: 50 });
    closers.push(() => c.close());
    const ev = record(c);
    await c.connect();
    await c.join('s.room');
    assert.match(s.urls[0], /access_token=tok-123/);
    s.publish('s.room', 'one');
    await waitFor(() => ev.message.length === 1, 'a message');
    await c.publish('s.other', 'from client');
    await waitFor(() => s.published.some((m) => m.data === 'from client'), 'the publish at the server');

    s.drop(3000);
    s.publish('s.room', 'two');
    const rj = await waitFor(() => ev.joined.find((j) => j.rejoin), 'the rejoin');
    assert.equal(rj.recovered, true);
    await waitFor(() => ev.message.length === 2, 'the missed message');
    assert.deepEqual(ev.message.map((m) => m.data), ['one', 'two']);
  });
}

test('the SockJS transport without sockjs-client reports it and retries', async () => {
  const c = new WsgateClient('http://127.0.0.1:1/sockjs', { transport: 'sockjs', minDelay: 10, maxDelay: 20 });
  const ev = record(c);
  c.connect().catch(() => {});
  await waitFor(() => ev.error.length >= 2, 'two errors');
  c.close();
  assert.match(ev.error[0].message, /sockjs-client is not loaded/);
});
