#!/usr/bin/env node
// Reference echo + broadcast server for wsload's tests, built on npm `ws`
// (a third-party implementation): wsload's numbers are checked against a
// server that we did not write.
//
// Usage:
//   node wsserver.js [--host 127.0.0.1] [--port 0] [--drop-every K] [--delay-ms D]
//                    [--no-deflate] [--tls-cert FILE --tls-key FILE]
//
// Endpoints (one port):
//   GET /echo (upgrade)         every message is echoed with its opcode
//   GET /room/NAME (upgrade)    joins room NAME; every message sent on it is
//                               broadcast to every member of the room
//   GET /status/NNN (upgrade)   the upgrade is refused with HTTP NNN
//   POST /api/publish           JSON {"room": "...", "payload": "..."}: broadcast
//                               payload (text) to the room; answers 202
//                               {"delivered": n}
//
// --drop-every K drops every K-th outgoing message (echo reply or broadcast
// delivery), counted over the whole server, so tests can prove that losses
// are detected. --delay-ms D delays every echo reply and broadcast by D ms.
//
// With --tls-cert and --tls-key it serves wss:// (and https://) instead.
//
// The first line on stdout is "listening ws://HOST:PORT" (wss:// with TLS). The server exits
// when its stdin closes (so a crashed test cannot leak it) or on SIGTERM.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0, dropEvery: 0, delayMs: 0, deflate: true, cert: '', key: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--host': o.host = next(); break;
      case '--port': o.port = Number(next()); break;
      case '--drop-every': o.dropEvery = Number(next()); break;
      case '--delay-ms': o.delayMs = Number(next()); break;
      case '--no-deflate': o.deflate = false; break;
      case '--tls-cert': o.cert = next(); break;
      case '--tls-key': o.key = next(); break;
      default: throw new Error('unknown flag ' + a);
    }
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const rooms = new Map(); // name -> Set<WebSocket>
let outCount = 0;

// send delivers data to ws unless this is a message the server drops.
function send(ws, data, isBinary) {
  outCount++;
  if (opts.dropEvery > 0 && outCount % opts.dropEvery === 0) return;
  if (ws.readyState !== ws.OPEN) return;
  ws.send(data, { binary: isBinary });
}

function later(fn) {
  if (opts.delayMs > 0) setTimeout(fn, opts.delayMs); else fn();
}

function broadcast(name, data, isBinary) {
  const members = rooms.get(name);
  if (!members) return 0;
  const list = Array.from(members);
  later(() => { for (const m of list) send(m, data, isBinary); });
  return list.length;
}

const handler = (req, res) => {
  if (req.method === 'POST' && req.url === '/api/publish') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let msg;
      try { msg = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) {
        res.writeHead(400); res.end('bad json'); return;
      }
      const n = broadcast(String(msg.room), Buffer.from(String(msg.payload), 'utf8'), false);
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ delivered: n }));
    });
    return;
  }
  res.writeHead(404); res.end('not found');
};
const server = opts.cert
  ? https.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, handler)
  : http.createServer(handler);

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: opts.deflate ? { threshold: 0 } : false,
  maxPayload: 64 * 1024 * 1024,
});

server.on('upgrade', (req, socket, head) => {
  const url = req.url || '/';
  const st = /^\/status\/(\d{3})/.exec(url);
  if (st) {
    socket.end(`HTTP/1.1 ${st[1]} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  const room = /^\/room\/([^/?]+)/.exec(url);
  if (url !== '/echo' && !url.startsWith('/echo?') && !room) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (room) {
      const name = decodeURIComponent(room[1]);
      if (!rooms.has(name)) rooms.set(name, new Set());
      rooms.get(name).add(ws);
      ws.on('message', (data, isBinary) => broadcast(name, data, isBinary));
      ws.on('close', () => {
        const s = rooms.get(name);
        if (s) { s.delete(ws); if (s.size === 0) rooms.delete(name); }
      });
    } else {
      ws.on('message', (data, isBinary) => later(() => send(ws, data, isBinary)));
    }
    ws.on('error', () => {});
  });
});

server.listen(opts.port, opts.host, () => {
  const a = server.address();
  const scheme = opts.cert ? 'wss' : 'ws';
  process.stdout.write(`listening ${scheme}://${a.address}:${a.port}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
