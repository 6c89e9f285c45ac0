// wsgate_client.js: sockjs-client 1.x (npm) against wsgate's SockJS
// fallback, one transport forced. Two modes:
//
//   echo URL --transport T
//     Sends text of every size class from 0 B to 64 KiB and every JSON
//     escaping edge (each control character, U+2028, U+2029, lone
//     surrogates, quotes, backslashes, astral characters) and expects
//     each echo in order. wsgate carries UTF-8 text, so a lone surrogate
//     comes back as U+FFFD. Prints a JSON summary last.
//
//   room URL --transport T --tag NAME --send N --expect M
//     Joins the room of URL (a /room/NAME endpoint), prints {"event":"open"},
//     waits for a line "go" on stdin, sends N messages "NAME:i", and once
//     it has received M messages prints {"event":"done","received":[...]};
//     it closes when stdin ends.
//
//   stomp URL --transport T
//     @stomp/stompjs over sockjs-client: subscribes to a destination,
//     sends to it, expects its message back. Prints a JSON summary.
//
// Exit status 0 only if everything passed.
'use strict';

const path = require('path');
const readline = require('readline');
const modules = path.join(__dirname, '..', 'node', 'node_modules');
const SockJS = require(path.join(modules, 'sockjs-client'));

const [mode, url, ...rest] = process.argv.slice(2);
const opt = { transport: '', timeoutMs: 60000, tag: 'n', send: 0, expect: 0 };
for (let i = 0; i < rest.length; i++) {
  const k = rest[i].replace(/^--/, '');
  const v = rest[++i];
  if (k === 'transport') opt.transport = v;
  else if (k === 'timeout-ms') opt.timeoutMs = Number(v);
  else if (k === 'tag') opt.tag = v;
  else if (k === 'send') opt.send = Number(v);
  else if (k === 'expect') opt.expect = Number(v);
}
if (!mode || !url || !opt.transport) {
  console.error('usage: wsgate_client.js echo|room|stomp URL --transport NAME [...]');
  process.exit(2);
}

let failed = 0;
let passed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  if (!ok || process.env.VERBOSE) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}
function finish(extra) {
  console.log(JSON.stringify({ event: 'summary', transport: opt.transport, passed, failed, ...extra }));
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
setTimeout(() => {
  check('finished in time', false, `${opt.timeoutMs} ms`);
  finish();
}, opt.timeoutMs).unref();

function open() {
  return new SockJS(url, null, { transports: [opt.transport] });
}

// echoMessages builds the echo mode's messages.
function echoMessages() {
  const m = [];
  for (const n of [0, 1, 2, 7, 100, 1000, 4095, 4096, 4097, 16384, 32768, 65535, 65536]) {
    m.push('a'.repeat(n));
  }
  let controls = '';
  for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
  m.push(controls + '\u007f\u0080\u009f');
  m.push('line \u2028 paragraph \u2029 end');
  m.push('\u2028');
  m.push('lone high \ud800 end', 'lone low \udfff end', '\udbff', 'pair \ud83d\ude00 ok');
  m.push('quote " backslash \\ slash / <\/script> %41 % \u200c\u200d\u2060\ufeff\ufff0\uffff');
  m.push('astral 😀 𝄞 漢字 ' + '€'.repeat(10000));
  m.push('["json","array"]', '{"type":"join"}', 'a["frame"]', 'c[3000,"x"]', 'h', 'o');
  // A near-limit message of escapes: 10,000 control characters.
  m.push('\u0001'.repeat(10000));
  return m;
}

// utf8Text is what a message becomes as UTF-8 text: lone surrogates
// turn into U+FFFD.
function utf8Text(s) {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function echo() {
  const messages = echoMessages();
  const sock = open();
  let received = 0;
  sock.onopen = () => {
    check('open', sock.transport === opt.transport, `transport ${sock.transport}`);
    for (const m of messages) sock.send(m);
  };
  sock.onmessage = (e) => {
    const want = utf8Text(messages[received]);
    check(`echo ${received} (${want.length} chars)`, e.data === want, e.data === want ? '' : JSON.stringify(e.data).slice(0, 80));
    received++;
    if (received === messages.length) sock.close(1000, 'done');
  };
  sock.onclose = (e) => {
    check('all echoes, then a clean close', received === messages.length && e.code === 1000, `received ${received}/${messages.length}, code ${e.code} ${e.reason}`);
    finish();
  };
}

function room() {
  const sock = open();
  const received = [];
  sock.onopen = () => {
    console.log(JSON.stringify({ event: 'open', transport: sock.transport }));
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() !== 'go') return;
      for (let i = 0; i < opt.send; i++) sock.send(`${opt.tag}:${i}`);
    });
    // The member stays until stdin ends: closing as soon as it has
    // received everything could drop its own sends still in flight.
    rl.on('close', () => sock.close(1000, 'done'));
  };
  sock.onmessage = (e) => {
    received.push(e.data);
    if (received.length === opt.expect) {
      check('received all', true);
      console.log(JSON.stringify({ event: 'done', received }));
    }
  };
  sock.onclose = (e) => {
    if (received.length !== opt.expect) check('received all before the close', false, `${received.length}/${opt.expect}, code ${e.code} ${e.reason}`);
    finish();
  };
}

function stomp() {
  const { Client } = require(path.join(modules, '@stomp/stompjs'));
  const client = new Client({
    webSocketFactory: () => open(),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  const body = 'hello over SockJS \u2028 😀';
  client.onConnect = () => {
    check('CONNECTED', true);
    client.subscribe('/topic/sockjs', (msg) => {
      check('MESSAGE body', msg.body === body, JSON.stringify(msg.body));
      client.deactivate().then(() => finish());
    });
    client.publish({ destination: '/topic/sockjs', body, headers: { receipt: 'r1' } });
  };
  client.onStompError = (f) => {
    check('no ERROR frame', false, f.headers.message);
    finish();
  };
  client.onWebSocketClose = (e) => {
    if (passed < 2) {
      check('transport stayed open', false, `code ${e.code}`);
      finish();
    }
  };
  client.activate();
}

({ echo, room, stomp })[mode]();
