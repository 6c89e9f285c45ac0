// browser_sockjs.js: sockjs-client 1.x in headless Chromium (Debian's,
// driven by playwright-core) against wsgate's SockJS fallback, from a
// page of another origin (CORS with credentials), one transport forced
// at a time; each run echoes awkward text (escaping edges, 64 KiB) and
// checks every echo in order and a clean close.
//
// Usage: node browser_sockjs.js PAGE_URL SOCKJS_URL TRANSPORT...
// Prints one JSON line per transport and exits 0 only if all passed.
'use strict';

const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'node', 'node_modules', 'playwright-core'));

const [pageURL, sockURL, ...transports] = process.argv.slice(2);
const chromiumPath = process.env.WSGATE_CHROMIUM || '/usr/bin/chromium';

let controls = '';
for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
const messages = [
  'hello', '', controls, 'line \u2028 paragraph \u2029 end', 'lone \ud800 surrogate',
  'quote " backslash \\ </script> %41 \u200c\ufeff\uffff', 'astral 😀 漢字',
  'x'.repeat(5000), 'y'.repeat(65536),
];
// What comes back: UTF-8 text, so a lone surrogate becomes U+FFFD.
const want = messages.map((m) => m.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));

(async () => {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let failed = 0;
  try {
    for (const t of transports) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pageURL);
      const r = await page.evaluate(([u, tr, ms]) => window.runEcho(u, tr, ms, 60000), [sockURL, t, messages]);
      const bad = [];
      if (r.transport !== t) bad.push(`transport ${r.transport}`);
      if (r.timedOut) bad.push('timed out');
      if (r.closeCode !== 1000) bad.push(`close ${r.closeCode} ${r.closeReason}`);
      if (r.received.length !== want.length) bad.push(`${r.received.length}/${want.length} echoes`);
      r.received.forEach((m, i) => { if (m !== want[i]) bad.push(`echo ${i} differs (${m.length} chars)`); });
      if (errors.length) bad.push('page errors: ' + errors.join('; '));
      if (bad.length) failed++;
      console.log(JSON.stringify({ transport: t, ok: bad.length === 0, problems: bad }));
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  process.exit(failed === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
