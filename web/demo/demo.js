// The demo chat: rooms on one /ws connection, built on wsgate.js. Query
// parameters: user (dev mode user id), room (first room, default lobby),
// ws (the /ws URL, default this host's), token (a JWT for a production
// listener).

import { WsgateClient } from './wsgate.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const user = params.get('user') || sessionStorage.getItem('wsgate-demo-user') || 'guest-' + Math.random().toString(36).slice(2, 6);
sessionStorage.setItem('wsgate-demo-user', user);
const wsBase = params.get('ws') || (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const url = wsBase + (wsBase.includes('?') ? '&' : '?') + 'user=' + encodeURIComponent(user);

const client = new WsgateClient(url, { token: params.get('token') || undefined, minDelay: 300, maxDelay: 10000 });
const rooms = new Map(); // name -> {lines: [], unread: 0}
const mine = new Set(); // cids of messages sent from this page
let current = null;
let reconnects = 0;
let lastClose = '';
window.wsgateDemo = { client }; // for the console

const closeNames = { 1000: 'normal', 1001: 'going away', 1006: 'connection lost', 1008: 'policy', 1011: 'server error', 1012: 'service restart', 4001: 'token expired' };
const describe = (code, reason) => `${code ?? ''} ${reason || closeNames[code] || ''}`.trim();

function addLine(room, line) {
  const r = rooms.get(room);
  if (!r) return;
  r.lines.push(line);
  if (r.lines.length > 500) r.lines.shift();
  if (room === current) renderLine(line);
  else {
    r.unread++;
    renderRooms();
  }
}

function system(text, room) {
  for (const name of room ? [room] : rooms.keys()) addLine(name, { system: true, text });
}

function renderLine(line) {
  const li = document.createElement('li');
  if (line.system) {
    li.className = 'system';
    li.textContent = line.text;
  } else {
    li.dataset.from = line.from || '';
    if (line.from === user) li.classList.add('mine');
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = line.from || 'server';
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = line.text;
    li.append(from, text);
    if (line.pending) {
      li.classList.add('pending');
      line.pending.then(() => li.classList.remove('pending'), (err) => (text.textContent += ` (not sent: ${err.message})`));
    }
  }
  li.dataset.room = current;
  const box = $('messages');
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.append(li);
  if (atEnd) box.scrollTop = box.scrollHeight;
}

function renderRooms() {
  const ul = $('rooms');
  ul.replaceChildren();
  for (const [name, r] of rooms) {
    const li = document.createElement('li');
    li.dataset.room = name;
    if (name === current) li.classList.add('active');
    const label = document.createElement('span');
    label.className = 'name';
    label.textContent = '#' + name;
    const unread = document.createElement('span');
    unread.className = 'unread';
    unread.textContent = r.unread ? String(r.unread) : '';
    const leave = document.createElement('button');
    leave.textContent = '×';
    leave.title = 'leave ' + name;
    leave.onclick = (ev) => {
      ev.stopPropagation();
      leaveRoom(name);
    };
    li.append(label, unread, leave);
    li.onclick = () => select(name);
    ul.append(li);
  }
}

function select(name) {
  current = name;
  const r = rooms.get(name);
  $('room-title').textContent = name ? '#' + name : 'no room';
  $('messages').replaceChildren();
  $('text').disabled = $('send').disabled = !name;
  if (r) {
    r.unread = 0;
    r.lines.forEach(renderLine);
  }
  renderRooms();
}

async function joinRoom(name) {
  if (!rooms.has(name)) rooms.set(name, { lines: [], unread: 0 });
  select(name);
  try {
    const j = await client.join(name);
    system(j.offset != null ? `joined (history at offset ${j.offset})` : 'joined', name);
  } catch (err) {
    system(`cannot join: ${err.message}`, name);
  }
}

async function leaveRoom(name) {
  rooms.delete(name);
  if (current === name) select(rooms.keys().next().value ?? null);
  else renderRooms();
  await client.leave(name).catch(() => {});
}

client.on('message', (m) => {
  const d = m.data;
  if (m.from === user && d && mine.has(d.cid)) return; // our own, shown already (with -echo-self)
  const text = m.binary ? `(${d.length} bytes)` : typeof d === 'object' && d && typeof d.text === 'string' ? d.text : JSON.stringify(d);
  const room = m.room ?? current;
  addLine(room, { from: m.from, text });
});

client.on('joined', (j) => {
  if (!j.rejoin) return;
  let note = 'rejoined';
  if (j.offset != null) note += j.recovered ? ', resumed without a gap' : ', history too short: messages sent while away may be missing';
  system(note, j.room);
});

client.on('state', (s) => {
  const pill = $('status');
  pill.dataset.state = s.state;
  let text = s.state;
  if (s.state === 'reconnecting') {
    reconnects++;
    text = `reconnecting in ${(s.delay / 1000).toFixed(1)} s`;
    if (s.prev === 'open') {
      lastClose = describe(s.code, s.reason);
      system(`connection closed (${lastClose}); reconnecting`);
    }
  } else if (s.state === 'closed') {
    text = `closed (${describe(s.code, s.reason)})`;
  } else if (s.refreshed) {
    system('token renewed on a new connection');
  }
  pill.textContent = text;
  info();
});

function info() {
  $('conn-info').textContent = `retries: ${reconnects}${lastClose ? ' · last close: ' + lastClose : ''} · queued: ${client.queued}`;
}

client.on('error', (err) => {
  if (err.code !== 'transport') system(`error: ${err.code}: ${err.message}`, err.room && rooms.has(err.room) ? err.room : current);
});

$('join-form').onsubmit = (ev) => {
  ev.preventDefault();
  const name = $('room').value.trim();
  if (name) joinRoom(name);
};

$('send-form').onsubmit = (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  if (!text || !current) return;
  $('text').value = '';
  const cid = Math.random().toString(36).slice(2);
  mine.add(cid);
  const pending = client.publish(current, { text, cid });
  pending.finally(info).catch(() => {});
  addLine(current, { from: user, text, pending });
  info();
};

$('me').textContent = user;
joinRoom(params.get('room') || 'lobby');
client.connect().catch(() => {});
