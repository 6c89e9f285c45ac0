#!/usr/bin/env node
// @stomp/stompjs 7 in Node (with npm ws as its WebSocket) against a live
// wsgate's STOMP endpoint: runs every check of stomp_scenarios.js.
//
// Usage:
//   node stomp_client.js --url ws://127.0.0.1:PORT/stomp --tokens FILE.json
//        [--admin http://127.0.0.1:PORT] [--app] [--timeout-ms MS]
//
// FILE.json holds {"alice":JWT,"bob":JWT}. Each check prints one JSON line;
// the last line is {"summary":{...}}. Exit 0 only if every check passed.
'use strict';

const fs = require('node:fs');
const WebSocket = require('ws');
const StompJs = require('@stomp/stompjs');
const { run } = require('./stomp_scenarios');

function parseArgs(argv) {
  const o = { url: '', admin: '', tokens: '', app: false, timeoutMs: 30000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') o.url = argv[++i];
    else if (a === '--admin') o.admin = argv[++i];
    else if (a === '--tokens') o.tokens = argv[++i];
    else if (a === '--app') o.app = true;
    else if (a === '--timeout-ms') o.timeoutMs = Number(argv[++i]);
    else throw new Error('unexpected argument ' + a);
  }
  if (!o.url || !o.tokens) throw new Error('usage: stomp_client.js --url URL --tokens FILE [--admin URL] [--app]');
  return o;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const env = {
    StompJs,
    ws: (url, protocols) => new WebSocket(url, protocols),
    url: o.url,
    tokens: JSON.parse(fs.readFileSync(o.tokens, 'utf8')),
    app: o.app,
    timeoutMs: o.timeoutMs,
    log: (r) => console.log(JSON.stringify(r)),
  };
  if (o.admin) {
    env.adminPost = async (path, body) => {
      const resp = await fetch(o.admin + path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await resp.text();
      return resp.status;
    };
  }
  const results = await run(env);
  const failed = results.filter((r) => !r.ok).length;
  console.log(JSON.stringify({ summary: { ok: failed === 0, passed: results.length - failed, failed, checks: results.length } }));
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
