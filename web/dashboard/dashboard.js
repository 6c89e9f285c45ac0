// The dashboard: every second it reads /metrics (Prometheus text),
// /api/stats and /api/rooms from the admin listener that serves it, with
// the API key typed into the page, and redraws tiles, charts of the last
// five minutes, and tables.

import { Chart } from './chart.js';
import { Snapshot, parse, rate } from './metrics.js';

const $ = (id) => document.getElementById(id);
const WINDOW = 5 * 60 * 1000;
const colors = { a: '#1f6feb', b: '#d4622b', c: '#1a7f37', d: '#cf222e' };

let apiKey = sessionStorage.getItem('wsgate-api-key') || '';
let prev = null; // the previous reading: {snap, stats, rooms, at}
const series = { conns: [], msgIn: [], msgOut: [], bytesIn: [], bytesOut: [], hsOk: [], hsRej: [] };

export function fmtNum(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(a >= 100 ? 0 : 1);
}

export function fmtBytes(v) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? Math.round(v) : v.toFixed(1)) + ' ' + units[i];
}

const charts = {
  conns: new Chart($('c-conns'), { windowMs: WINDOW, format: fmtNum }),
  msgs: new Chart($('c-msgs'), { windowMs: WINDOW, format: fmtNum }),
  bytes: new Chart($('c-bytes'), { windowMs: WINDOW, format: fmtBytes }),
  hs: new Chart($('c-hs'), { windowMs: WINDOW, format: fmtNum }),
};

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

async function get(path) {
  const res = await fetch(path, { headers: apiKey ? { 'X-API-Key': apiKey } : {}, cache: 'no-store' });
  if (res.status === 401) throw Object.assign(new Error('API key required'), { auth: true });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res;
}

async function tick() {
  const at = Date.now();
  let text, stats, rooms, cluster;
  try {
    [text, stats, rooms, cluster] = await Promise.all([
      get('/metrics').then((r) => r.text()),
      get('/api/stats').then((r) => r.json()),
      get('/api/rooms').then((r) => r.json()),
      // Every node's counters; null when the cluster cannot answer now
      // (the table then shows this node alone).
      get('/api/stats?scope=cluster')
        .then((r) => r.json())
        .catch((err) => {
          if (err.auth) throw err;
          return null;
        }),
    ]);
  } catch (err) {
    setStatus(err.auth ? 'auth' : 'error', err.message);
    if (err.auth) $('key').focus();
    return;
  }
  const cur = { snap: new Snapshot(parse(text), at), stats, cluster, rooms: rooms.rooms || [], at };
  render(prev, cur);
  prev = cur;
  setStatus('ok', 'live · ' + new Date(at).toLocaleTimeString());
}

function push(list, at, v) {
  list.push([at, v]);
  while (list.length && list[0][0] < at - WINDOW) list.shift();
}

function render(p, c) {
  const s = c.snap;
  const dt = p ? c.at - p.at : 0;
  const r = (name, match) => (p ? rate(p.snap.sum(name, match), s.sum(name, match), dt) : 0);
  const open = s.has('wsgate_connections_open') ? s.sum('wsgate_connections_open') : c.stats.open;
  const hsAll = r('wsgate_handshakes_total');
  const hsOk = r('wsgate_handshakes_total', { result: 'ok' });
  const v = {
    open,
    hs: hsAll,
    rej: hsAll - hsOk,
    min: r('wsgate_messages_total', { direction: 'in' }),
    mout: r('wsgate_messages_total', { direction: 'out' }),
    bin: r('wsgate_message_bytes_total', { direction: 'in' }),
    bout: r('wsgate_message_bytes_total', { direction: 'out' }),
    slow: s.sum('wsgate_slow_consumer_actions_total', { policy: 'close' }),
  };
  $('t-open').textContent = fmtNum(v.open);
  $('t-hs').textContent = fmtNum(v.hs);
  $('t-rej').textContent = fmtNum(v.rej);
  $('t-min').textContent = fmtNum(v.min);
  $('t-mout').textContent = fmtNum(v.mout);
  $('t-bin').textContent = fmtBytes(v.bin) + '/s';
  $('t-bout').textContent = fmtBytes(v.bout) + '/s';
  $('t-slow').textContent = fmtNum(v.slow);
  $('t-rooms').textContent = fmtNum(c.stats.rooms ?? s.sum('wsgate_rooms'));
  $('t-users').textContent = fmtNum(c.stats.users ?? s.sum('wsgate_users'));

  push(series.conns, c.at, v.open);
  if (p) {
    push(series.msgIn, c.at, v.min);
    push(series.msgOut, c.at, v.mout);
    push(series.bytesIn, c.at, v.bin);
    push(series.bytesOut, c.at, v.bout);
    push(series.hsOk, c.at, hsOk);
    push(series.hsRej, c.at, v.rej);
  }
  draw('conns', c.at, [['open', colors.a, series.conns, fmtNum]]);
  draw('msgs', c.at, [['in', colors.a, series.msgIn, fmtNum], ['out', colors.b, series.msgOut, fmtNum]]);
  draw('bytes', c.at, [['in', colors.a, series.bytesIn, fmtBytes], ['out', colors.b, series.bytesOut, fmtBytes]]);
  draw('hs', c.at, [['ok', colors.c, series.hsOk, fmtNum], ['rejected', colors.d, series.hsRej, fmtNum]]);

  const counts = (name, label, match) => {
    const now = s.by(name, label, match);
    const before = p?.snap.by(name, label, match);
    return [...now]
      .filter(([, total]) => total > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, total]) => [k, fmtNum(total), fmtNum(before ? rate(before.get(k), total, dt) : 0)]);
  };
  fill('handshakes', counts('wsgate_handshakes_total', 'result'));
  fill('closes', counts('wsgate_connections_closed_total', 'reason'));
  fill('limits', [
    ...counts('wsgate_rate_limited_total', 'kind'),
    ...counts('wsgate_forbidden_total', 'action').map(([k, ...rest]) => ['forbidden ' + k, ...rest]),
    ...counts('wsgate_slow_consumer_actions_total', 'policy').map(([k, ...rest]) => ['slow consumer ' + k, ...rest]),
  ]);
  renderRooms(p, c, dt);
  renderNodes(p, c, dt);
}

function draw(name, at, lines) {
  charts[name].draw(lines.map(([n, color, points]) => ({ name: n, color, points })), at);
  const legend = $('l-' + name);
  legend.replaceChildren();
  for (const [n, color, points, fmt] of lines) {
    const sw = document.createElement('i');
    sw.style.background = color;
    const last = points.at(-1);
    legend.append(sw, `${n} ${last ? fmt(last[1]) : '–'}`);
  }
}

function fill(id, rows) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = cell;
  }
}

// Per-room rates need a message counter per room in /api/rooms
// ("messages"); without one the table says so.
function renderRooms(p, c, dt) {
  const top = [...c.rooms].sort((a, b) => b.members - a.members || (a.name < b.name ? -1 : 1)).slice(0, 10);
  fill('rooms-members', top.map((x) => [x.name, fmtNum(x.members)]));
  const counted = c.rooms.some((x) => typeof x.messages === 'number');
  $('rooms-rate-note').textContent = counted ? '' : 'This server reports no per-room message counts (/api/rooms "messages").';
  if (!counted || !p) return fill('rooms-rate', []);
  const before = new Map(p.rooms.map((x) => [x.name, x.messages]));
  const rates = c.rooms
    .map((x) => [x.name, rate(before.get(x.name) ?? x.messages, x.messages, dt)])
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  fill('rooms-rate', rates.map(([n, v]) => [n, fmtNum(v)]));
}

// Nodes: one row per node from /api/stats?scope=cluster (a node on its
// own answers with itself), rates from the previous answer; nodes known to
// be up that did not answer in time get a row that says so. Without a
// cluster answer, this node's own /api/stats.
function nodeRows(v) {
  if (!v.cluster || !Array.isArray(v.cluster.nodes)) return [{ key: 'this node', name: location.host, st: v.stats }];
  return v.cluster.nodes.map((n) => ({ key: n.id, name: n.name || n.id, st: n.stats || {} }));
}

function renderNodes(p, c, dt) {
  const before = new Map(p ? nodeRows(p).map((n) => [n.key, n.st]) : []);
  const rows = nodeRows(c).map(({ key, name, st }) => {
    const b = before.get(key);
    return [
      name,
      fmtNum(st.open ?? 0),
      fmtNum(st.rooms ?? 0),
      fmtNum(st.users ?? 0),
      fmtNum(b ? rate(b.messages_in, st.messages_in, dt) : 0),
      fmtNum(b ? rate(b.messages_out, st.messages_out, dt) : 0),
      fmtNum(st.slow_consumer_closed ?? 0),
    ];
  });
  for (const n of c.cluster?.missing || []) rows.push([`${n.name || n.id} (no answer)`, '–', '–', '–', '–', '–', '–']);
  fill('nodes', rows);
}

$('key').value = apiKey;
$('key-form').onsubmit = (ev) => {
  ev.preventDefault();
  apiKey = $('key').value.trim();
  sessionStorage.setItem('wsgate-api-key', apiKey);
  tick();
};

async function loop() {
  const start = Date.now();
  await tick();
  setTimeout(loop, Math.max(100, 1000 - (Date.now() - start)));
}
loop();
