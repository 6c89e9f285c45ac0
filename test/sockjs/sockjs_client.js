// sockjs_client.js: sockjs-client 1.x (npm) against a SockJS echo
// endpoint, with one transport forced. Sends a set of awkward messages
// (quotes, backslashes, U+2028, astral characters, '%41', "</script>",
// sizes past the test servers' 4 KiB response limit), expects each echo
// in order, closes, and checks the close event.
//
// Usage: node test/sockjs/sockjs_client.js URL --transport NAME [--timeout-ms N]
//   NAME: websocket, xhr-streaming, xhr-polling, eventsource, ...
// Prints one line per check and a JSON summary last; exit 0 only if all passed.
'use strict';

const path = require('path');
const SockJS = require(path.join(__dirname, '..', 'node', 'node_modules', 'sockjs-client'));

const args = process.argv.slice(2);
const url = args[0];
let transport = '';
let timeoutMs = 20000;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--transport') transport = args[++i];
  else if (args[i] === '--timeout-ms') timeoutMs = Number(args[++i]);
}
if (!url || !transport) {
  console.error('usage: sockjs_client.js URL --transport NAME');
  process.exit(2);
}

const messages = [
  'hello',
  '',
  'quote " backslash \\ slash / tab \t newline \n nul \u0000',
  'separators \u2028 \u2029 joiners \u200c\u200d bom \ufeff specials \ufff0 \uffff',
  'astral 😀 𝄞 and CJK 漢字',
  'percent %41 %25 %',
  '</script><script>alert(1)</script>',
  'x'.repeat(3000),
  'y'.repeat(5000),
];
for (let i = 0; i < 20; i++) messages.push('burst ' + i);

const results = [];
let failed = 0;
function check(name, ok, detail) {
  results.push({ name, ok });
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}
function finish() {
  console.log(JSON.stringify({ transport, passed: results.length - failed, failed }));
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
}

const timer = setTimeout(() => {
  check('finished in time', false, `${timeoutMs} ms`);
  finish();
}, timeoutMs);

const sock = new SockJS(url, null, { transports: [transport] });
let received = 0;
sock.onopen = () => {
  check('open', sock.transport === transport, `transport ${sock.transport}`);
  for (const m of messages) sock.send(m);
};
sock.onmessage = (e) => {
  const want = messages[received];
  const same = e.data === want;
  if (!same || received < 9) {
    check(`echo ${received} (${want.length} chars)`, same, same ? '' : JSON.stringify(e.data).slice(0, 80));
  }
  received++;
  if (received === messages.length) {
    check(`all ${messages.length} echoes in order`, true);
    sock.close(1000, 'done');
  }
};
sock.onclose = (e) => {
  clearTimeout(timer);
  check('closed by the client', received === messages.length && e.code === 1000, `code ${e.code} ${e.reason}`);
  finish();
};
