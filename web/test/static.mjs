// A small static server for the browser tests, standing in for wsgate's
// own serving of web/ (package web): the demo at /, the dashboard under
// /ui/, with the Content-Security-Policy that package web sends (read from
// web.go, so the pages are tested under the real policy), and /metrics and
// /api/* passed through to a wsgate admin listener as the admin listener
// itself would answer them.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { webDir } from './helpers.mjs';

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function csp(name) {
  const src = readFileSync(path.join(webDir, 'web.go'), 'utf8');
  return new RegExp(`${name}\\s*=\\s*"([^"]+)"`).exec(src)[1];
}

const routes = {
  '/': 'demo/index.html',
  '/demo.js': 'demo/demo.js',
  '/demo.css': 'demo/demo.css',
  '/wsgate.js': 'wsgate.js',
  '/ui/': 'dashboard/index.html',
  '/ui/dashboard.js': 'dashboard/dashboard.js',
  '/ui/dashboard.css': 'dashboard/dashboard.css',
  '/ui/metrics.js': 'dashboard/metrics.js',
  '/ui/chart.js': 'dashboard/chart.js',
};

// serveWeb starts the server; admin() returns the admin base URL of the
// wsgate in service (it changes when a test restarts wsgate).
export async function serveWeb(admin) {
  const demoCSP = csp('demoCSP');
  const dashboardCSP = csp('dashboardCSP');
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/metrics' || url.pathname.startsWith('/api/')) return proxy(admin(), req, res);
    const file = routes[url.pathname];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers = { 'Content-Type': types[path.extname(file)], 'Cache-Control': 'no-cache' };
    if (file.endsWith('.html')) headers['Content-Security-Policy'] = file.startsWith('demo') ? demoCSP : dashboardCSP;
    res.writeHead(200, headers).end(readFileSync(path.join(webDir, file)));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  srv.url = `http://127.0.0.1:${srv.address().port}`;
  return srv;
}

function proxy(base, req, res) {
  const headers = {};
  for (const h of ['x-api-key', 'authorization', 'accept']) if (req.headers[h]) headers[h] = req.headers[h];
  const up = http.request(base + req.url, { method: req.method, headers }, (r) => {
    res.writeHead(r.statusCode, { 'Content-Type': r.headers['content-type'] || 'text/plain' });
    r.pipe(res);
  });
  up.on('error', (err) => res.writeHead(502).end(String(err)));
  req.pipe(up);
}
