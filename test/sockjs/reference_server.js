// reference_server.js: the SockJS reference server (npm `sockjs`, that is
// sockjs-node 0.3.x) with the four endpoints the SockJS protocol test
// suite expects, to calibrate the suite against the implementation it was
// written for. Our own code: it only wires sockjs-node's public API.
//
//   /echo                     echoes every message (response limit 4096 bytes,
//                             so the suite's response-limit tests are short)
//   /close                    closes every session at once with c[3000,"Go away!"]
//   /disabled_websocket_echo  /echo without the websocket transports
//   /cookie_needed_echo       /echo that sets JSESSIONID cookies
//
// Usage: node test/sockjs/reference_server.js [--port N]   (127.0.0.1 only)
// Prints "listening http://127.0.0.1:PORT" once ready; stops on SIGTERM/SIGINT.
'use strict';

const path = require('path');
const http = require('http');
const sockjs = require(path.join(__dirname, '..', 'node', 'node_modules', 'sockjs'));

let port = 0;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--port') port = Number(process.argv[++i]);
}

const quiet = { log: () => {} };

const echo = sockjs.createServer(quiet);
echo.on('connection', (conn) => conn.on('data', (m) => conn.write(m)));

const closer = sockjs.createServer(quiet);
closer.on('connection', (conn) => conn.close(3000, 'Go away!'));

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404 - not a SockJS endpoint\n');
});
server.on('upgrade', (req, socket) => socket.end());

echo.installHandlers(server, { prefix: '/echo', response_limit: 4096 });
echo.installHandlers(server, { prefix: '/disabled_websocket_echo', websocket: false });
echo.installHandlers(server, { prefix: '/cookie_needed_echo', jsessionid: true });
closer.installHandlers(server, { prefix: '/close' });

server.listen(port, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
