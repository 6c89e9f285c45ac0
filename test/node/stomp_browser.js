#!/usr/bin/env node
// @stomp/stompjs 7's browser bundle in headless Chromium (Debian's,
// driven by playwright-core) against a live wsgate: a page served from a
// local port loads stomp.umd.min.js and stomp_scenarios.js and runs every
// check with the browser's own WebSocket. The admin API is not called
// from the page (it is not the page's origin).
//
// Usage:
//   node stomp_browser.js --url ws://127.0.0.1:PORT/stomp --tokens FILE.json [--app]
//        [--chromium /usr/bin/chromium] [--timeout-ms MS]
//
// Output as stomp_client.js: one JSON line per check, then a summary.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const o = { url: '', tokens: '', app: false, chromium: '/usr/bin/chromium', timeoutMs: 30000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') o.url = argv[++i];
    else if (a === '--tokens') o.tokens = argv[++i];
    else if (a === '--app') o.app = true;
    else if (a === '--chromium') o.chromium = argv[++i];
    else if (a === '--timeout-ms') o.timeoutMs = Number(argv[++i]);
    else throw new Error('unexpected argument ' + a);
  }
  if (!o.url || !o.tokens) throw new Error('usage: stomp_browser.js --url URL --tokens FILE [--app]');
  return o;
}

// serve answers the page and its two scripts on a free loopback port.
function serve() {
  const files = {
    '/stomp.umd.min.js': path.join(__dirname, 'node_modules', '@stomp', 'stompjs', 'bundles', 'stomp.umd.min.js'),
    '/stomp_scenarios.js': path.join(__dirname, 'stomp_scenarios.js'),
  };
  const page = '<!doctype html><meta charset="utf-8"><title>stompjs</title>' +
    '<script src="/stomp.umd.min.js"></script><script src="/stomp_scenarios.js"></script><p>stompjs checks</p>';
  const srv = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    } else if (files[req.url]) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(files[req.url]));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const tokens = JSON.parse(fs.readFileSync(o.tokens, 'utf8'));
  const srv = await serve();
  const browser = await chromium.launch({
    executablePath: o.chromium,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let results;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error('pageerror: ' + err.message));
    await page.exposeFunction('report', (r) => console.log(JSON.stringify(r)));
    await page.goto('http://127.0.0.1:' + srv.address().port + '/');
    results = await page.evaluate(async (args) => {
      // The browser's WebSocket; stompjs's bundle is window.StompJs.
      const env = {
        StompJs: window.StompJs,
        ws: (url, protocols) => new WebSocket(url, protocols),
        url: args.url,
        tokens: args.tokens,
        app: args.app,
        timeoutMs: args.timeoutMs,
        log: (r) => window.report(r),
      };
      return window.StompScenarios.run(env);
    }, { url: o.url, tokens, app: o.app, timeoutMs: o.timeoutMs });
  } finally {
    await browser.close();
    srv.close();
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(JSON.stringify({ summary: { ok: failed === 0, passed: results.length - failed, failed, checks: results.length } }));
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
