// The dashboard's Prometheus text parser (dashboard/metrics.js) on what
// wsgate's /metrics really writes, and on the corners of the format.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Snapshot, key, parse, rate } from '../dashboard/metrics.js';
import { WsgateClient } from '../wsgate.js';
import { WebSocket, Wsgate, waitFor } from './helpers.mjs';

test('the families the dashboard reads, from a live wsgate', async () => {
  const s = await new Wsgate(['-dev']).start();
  const clients = [];
  try {
    for (const u of ['a', 'b']) clients.push(new WsgateClient(`${s.wsURL}?user=${u}`, { WebSocket }));
    await Promise.all(clients.map((c) => c.connect()));
    await clients[1].join('m.room');
    for (let i = 0; i < 5; i++) await clients[0].publish('m.room', { i });
    const scrape = async () => new Snapshot(parse(await (await fetch(s.adminURL + '/metrics')).text()), Date.now());
    const snap = await waitFor(async () => {
      const sn = await scrape();
      return sn.sum('wsgate_messages_total', { direction: 'out' }) >= 5 && sn;
    }, 'five messages out');
    assert.equal(snap.sum('wsgate_connections_open'), 2);
    assert.equal(snap.sum('wsgate_messages_total', { direction: 'in' }), 6, 'a join and five publishes');
    assert.ok(snap.sum('wsgate_message_bytes_total', { direction: 'in' }) > 0);
    assert.equal(snap.by('wsgate_handshakes_total', 'result').get('ok'), 2);
    assert.ok(snap.by('wsgate_connections_closed_total', 'reason').size > 1, 'closes by reason');
    assert.ok(snap.has('wsgate_slow_consumer_actions_total'));
    assert.ok(snap.has('wsgate_rate_limited_total'));
    assert.equal(snap.sum('wsgate_rooms'), 1);
    const stats = await (await fetch(s.adminURL + '/api/stats')).json();
    assert.equal(stats.open, 2);
  } finally {
    clients.forEach((c) => c.close());
    await s.stop('SIGKILL');
  }
});

test('parse: comments, labels with escapes, exponents, special values', () => {
  const text = [
    '# HELP x_total a counter',
    '# TYPE x_total counter',
    'x_total 3',
    'x_total{a="1",b="two words"} 4.5e2',
    'y{path="C:\\\\dir",msg="say \\"hi\\"\\nbye"} -1',
    '',
    'z NaN',
    'w +Inf 1700000000000',
  ].join('\n');
  const got = parse(text);
  assert.deepEqual(got.map((s) => [s.name, s.labels, s.value]), [
    ['x_total', {}, 3],
    ['x_total', { a: '1', b: 'two words' }, 450],
    ['y', { path: 'C:\\dir', msg: 'say "hi"\nbye' }, -1],
    ['w', {}, Infinity],
  ]);
  assert.equal(key(got[1]), 'x_total{a="1",b="two words"}');
  const snap = new Snapshot(got, 0);
  assert.equal(snap.sum('x_total'), 453);
  assert.equal(snap.sum('x_total', { a: '1' }), 450);
});

test('rate: per second, across a counter reset, and without a previous reading', () => {
  assert.equal(rate(100, 300, 2000), 100);
  assert.equal(rate(500, 40, 1000), 40, 'a restart resets the counter');
  assert.equal(rate(undefined, 40, 1000), 0);
  assert.equal(rate(1, 2, 0), 0);
});
