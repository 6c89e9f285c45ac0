// The demo chat and the dashboard in headless Chromium (Debian's, driven
// by playwright-core) against a live wsgate, which serves both pages
// itself (the demo at / of its WebSocket listener in dev mode, the
// dashboard at /ui/ of its admin listener): two browser contexts chat both
// ways, a page rides out a wsgate restart, the dashboard reads a server
// behind an API key. WSGATE_WEB_SCREENSHOTS=DIR keeps screenshots.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WsgateClient } from '../wsgate.js';
import { WebSocket, Wsgate, requireTestDep, waitFor } from './helpers.mjs';

const chromiumPath = process.env.WSGATE_CHROMIUM || '/usr/bin/chromium';
let browser;
const cleanups = [];

before(async () => {
  const { chromium } = requireTestDep('playwright-core');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  for (const f of cleanups.reverse()) await f();
  await browser?.close();
});

// page opens url in a new browser context and records the page's errors
// and console errors (CSP violations among them).
async function page(url) {
  const ctx = await browser.newContext();
  cleanups.push(() => ctx.close());
  const p = await ctx.newPage();
  p.problems = [];
  p.on('pageerror', (err) => p.problems.push('pageerror: ' + err.message));
  p.on('console', (m) => m.type() === 'error' && p.problems.push('console: ' + m.text()));
  await p.goto(url);
  return p;
}

async function shot(p, name) {
  const dir = process.env.WSGATE_WEB_SCREENSHOTS;
  if (dir) await p.screenshot({ path: path.join(dir, name + '.png'), fullPage: true });
}

// start runs wsgate; demo is the URL of its demo page, dashboard that of
// its dashboard.
async function start(args) {
  const s = await new Wsgate(args).start();
  cleanups.push(() => s.stop('SIGKILL'));
  return { s, demo: `http://${s.addr}/`, dashboard: `${s.adminURL}/ui/` };
}

const line = (p, from, text) => p.locator(`#messages li[data-from="${from}"]`, { hasText: text }).waitFor({ timeout: 30000 });
const system = (p, text) => p.locator('#messages li.system', { hasText: text }).first().waitFor({ timeout: 30000 });
const ignorable = (msg) => /Failed to load resource|WebSocket connection to .* failed/.test(msg);

async function say(p, text) {
  await p.fill('#text', text);
  await p.press('#text', 'Enter');
}

test('two browser contexts chat both ways through wsgate', async () => {
  const { demo } = await start(['-dev']);
  const alice = await page(`${demo}?room=lobby&user=alice`);
  const bob = await page(`${demo}?room=lobby&user=bob`);
  for (const p of [alice, bob]) {
    await p.locator('#status[data-state="open"]').waitFor();
    await system(p, 'joined');
  }
  await say(alice, 'hello from alice');
  await line(bob, 'alice', 'hello from alice');
  await say(bob, 'hi alice, bob here');
  await line(alice, 'bob', 'hi alice, bob here');

  // A second room: joined from the form, messages stay in their room.
  for (const p of [alice, bob]) {
    await p.fill('#room', 'side');
    await p.click('#join');
    await p.locator('#room-title', { hasText: '#side' }).waitFor();
    await system(p, 'joined');
  }
  await say(bob, 'in the side room');
  await line(alice, 'bob', 'in the side room');
  await alice.click('#rooms li[data-room="lobby"]');
  assert.equal(await alice.locator('#messages li', { hasText: 'in the side room' }).count(), 0);
  await shot(alice, 'demo-chat');
  for (const p of [alice, bob]) assert.deepEqual(p.problems.filter((m) => !ignorable(m)), []);
});

for (const [code, args] of [[1012, ['-dev', '-restart']], [1001, ['-dev']]]) {
  test(`a page reconnects, rejoins and chats on after wsgate restarts under it (close ${code})`, async () => {
    const { s, demo } = await start(args);
    const alice = await page(`${demo}?room=lobby&user=alice`);
    await alice.locator('#status[data-state="open"]').waitFor();
    await system(alice, 'joined');
    await alice.evaluate(() => {
      window.states = [];
      window.wsgateDemo.client.on('state', (e) => window.states.push(e));
    });

    await s.stop('SIGTERM');
    await waitFor(() => alice.evaluate(() => window.states.find((e) => e.state === 'reconnecting')), 'the page sees the close');
    const closed = await alice.evaluate(() => window.states.find((e) => e.state === 'reconnecting'));
    assert.equal(closed.code, code);
    await system(alice, 'connection closed');
    await say(alice, 'typed while the server was down');

    await s.start();
    await alice.locator('#status[data-state="open"]').waitFor({ timeout: 60000 });
    await system(alice, 'rejoined');
    const bob = await page(`${demo}?room=lobby&user=bob`);
    await system(bob, 'joined');
    await say(bob, 'after the restart');
    await line(alice, 'bob', 'after the restart');
    await say(alice, 'still here');
    await line(bob, 'alice', 'still here');
    await shot(alice, `demo-restart-${code}`);
    assert.deepEqual(alice.problems.filter((m) => !ignorable(m)), []);
  });
}

test('the dashboard asks for the API key, then shows connections, rooms and rates', async () => {
  const key = 'dashboard-test-key-0123456789';
  // dash.* rooms keep history, so /api/rooms counts their messages.
  const { s, dashboard } = await start(['-dev', '-api-key', key, '-history', 'dash.*=100']);
  const clients = ['u1', 'u2', 'u3'].map((u) => new WsgateClient(`${s.wsURL}?user=${u}`, { WebSocket }));
  cleanups.push(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.connect()));
  await Promise.all(clients.map((c) => c.join('dash.room')));
  await clients[0].join('dash.small');

  const p = await page(dashboard);
  await p.locator('#status[data-state="auth"]').waitFor();
  await p.fill('#key', key);
  await p.click('#key-form button');
  await p.locator('#status[data-state="ok"]').waitFor();

  await waitFor(async () => (await p.textContent('#t-open')) === '3', 'three connections on the tile');
  const top = p.locator('#rooms-members tbody tr').first();
  assert.deepEqual(await top.locator('td').allTextContents(), ['dash.room', '3']);
  await p.locator('#handshakes tbody tr', { hasText: 'ok' }).waitFor();
  await p.locator('#nodes tbody tr').first().waitFor();

  // Traffic shows as a rate, and the charts grow a line per series.
  const pump = setInterval(() => clients[1].publish('dash.room', { n: 1 }).catch(() => {}), 20);
  cleanups.push(() => clearInterval(pump));
  await waitFor(async () => Number(await p.textContent('#t-min')) > 0, 'messages in per second above 0');
  await waitFor(async () => Number(await p.textContent('#t-mout')) > 0, 'messages out per second above 0');
  await p.locator('#rooms-rate tbody tr', { hasText: 'dash.room' }).waitFor({ timeout: 30000 });
  assert.equal(await p.textContent('#rooms-rate-note'), '', 'the server reports per-room message counts');
  clearInterval(pump);
  for (const chart of ['conns', 'msgs', 'bytes', 'hs']) {
    await waitFor(async () => (await p.locator(`#c-${chart} polyline`).count()) >= 1, `a line in chart ${chart}`);
  }
  const pts = await p.getAttribute('#c-conns polyline', 'points');
  assert.ok(pts.split(' ').length >= 2, 'the connections chart has several points');
  await shot(p, 'dashboard');
  assert.deepEqual(p.problems.filter((m) => !ignorable(m)), []);
});
