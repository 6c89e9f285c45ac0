#!/usr/bin/env node
// Node peer for wsgate's benchmark harness, on npm `ws` (resolved through
// NODE_PATH, e.g. test/node/node_modules). Same flags and endpoints as the
// Go peers:
//
//   node server.js [-addr 127.0.0.1:8080] [-deflate]
//
//   GET /echo        every message is echoed with its opcode
//   GET /room/NAME   every message is sent to the room's other members
//
// Prints "node listening HOST:PORT" once listening; exits on SIGTERM/SIGINT.
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

let addr = '127.0.0.1:8080';
let deflate = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i].replace(/^--?/, '');
  if (a === 'addr') addr = argv[++i];
  else if (a.startsWith('addr=')) addr = a.slice(5);
  else if (a === 'deflate' || a === 'deflate=true') deflate = true;
  else if (a === 'deflate=false') deflate = false;
  else { console.error('node: unknown flag ' + argv[i]); process.exit(2); }
}
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep);
const port = Number(addr.slice(sep + 1));

const rooms = new Map(); // name -> Set<WebSocket>
const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  clientTracking: false,
});

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
server.on('upgrade', (req, socket, head) => {
  const url = req.url || '/';
  const m = /^\/room\/([^/?]+)$/.exec(url);
  if (url !== '/echo' && !m) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => (m ? joinRoom(ws, m[1]) : echo(ws)));
});

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function joinRoom(ws, name) {
  let members = rooms.get(name);
  if (!members) { members = new Set(); rooms.set(name, members); }
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const o of members) {
      if (o !== ws && o.readyState === WebSocket.OPEN) o.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    members.delete(ws);
    if (members.size === 0) rooms.delete(name);
  });
}

server.listen(port, host, () => {
  const a = server.address();
  console.log(`node listening ${a.address}:${a.port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
