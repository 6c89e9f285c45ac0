// Shared pieces of the web client's tests: the npm packages from test/node,
// a wsgate process that can be stopped and started again on its port,
// waiting on conditions, and HS256 tokens.

import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(webDir, '..');

// npm packages installed by scripts/setup-test-deps.sh under test/node.
export const requireTestDep = createRequire(path.join(repoRoot, 'test', 'node', 'package.json'));
export const WebSocket = requireTestDep('ws');

let builtBin;

// wsgateBin returns the wsgate binary: WSGATE_BIN when set (the Go test
// that runs these builds it once), else one built here into a temporary
// folder.
export function wsgateBin() {
  if (process.env.WSGATE_BIN) return process.env.WSGATE_BIN;
  if (!builtBin) {
    const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-web-'));
    builtBin = path.join(dir, 'wsgate');
    execFileSync('go', ['build', '-o', builtBin, './cmd/wsgate'], { cwd: repoRoot, stdio: 'inherit' });
  }
  return builtBin;
}

// Wsgate is one wsgate process at a time on a fixed port: stop() ends it by
// its pid (SIGTERM drains with 1001, or 1012 with -restart) and start()
// brings a new one up on the same port, as a restart under clients does.
export class Wsgate {
  constructor(args = []) {
    this.args = args;
    this.addr = '127.0.0.1:0';
    this.admin = '127.0.0.1:0';
    this.proc = null;
    this.log = '';
  }

  get wsURL() {
    return `ws://${this.addr}/ws`;
  }

  get adminURL() {
    return `http://${this.admin}`;
  }

  // start runs wsgate and resolves once it logs its listening line. A port
  // freed a moment ago may still be in use; it tries again for a while.
  async start() {
    for (let i = 0; ; i++) {
      try {
        return await this.startOnce();
      } catch (err) {
        if (i >= 50 || !/address already in use/.test(err.message)) throw err;
        await sleep(200);
      }
    }
  }

  startOnce() {
    const argv = ['-listen', this.addr, '-admin', this.admin, '-drain-interval', '10ms', ...this.args];
    const proc = spawn(wsgateBin(), argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    proc.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    let out = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wsgate not listening after 60s:\n${out}`)), 60000);
      proc.stderr.on('data', (chunk) => {
        out += chunk;
        this.log += chunk;
        const line = out.split('\n').find((l) => l.includes('wsgate listening'));
        if (!line || this.proc !== proc || proc.listening) return;
        proc.listening = true;
        clearTimeout(timer);
        this.addr = /\baddr=([0-9.]+:[0-9]+)/.exec(line)[1];
        const admin = /\badmin=([0-9.]+:[0-9]+)/.exec(line);
        if (admin) this.admin = admin[1];
        resolve(this);
      });
      proc.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`wsgate exited (${code}) before listening:\n${out}`));
      });
    });
  }

  // stop sends signal to the process by its pid and waits for it to exit.
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await proc.exited;
  }
}

// freePort returns a loopback port that nothing listens on (just now).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// waitFor polls cond until it returns a truthy value, which it resolves
// with; it rejects after timeoutMs (generous: the machine may be busy).
export async function waitFor(cond, what, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

// record collects a client's events in arrays by type.
export function record(client) {
  const ev = { state: [], message: [], joined: [], error: [] };
  for (const type of Object.keys(ev)) client.on(type, (e) => ev[type].push(e));
  return ev;
}

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

// hs256 returns a JWT with claims, signed with secret.
export function hs256(secret, claims) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' }) + '.' + b64url(claims);
  return head + '.' + createHmac('sha256', secret).update(head).digest('base64url');
}

export const haveChromium = () => existsSync('/usr/bin/chromium');
