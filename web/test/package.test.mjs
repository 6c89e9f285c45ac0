// The client as a package: its size minified and gzipped, `npm pack`
// giving a package that installs and works, and its TypeScript
// declarations checked against a typed program.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { Wsgate, requireTestDep, webDir } from './helpers.mjs';

const sizeLimit = 6 * 1024;

test(`wsgate.js is under ${sizeLimit} bytes minified and gzipped`, async (t) => {
  const { minify } = requireTestDep('terser');
  const src = readFileSync(path.join(webDir, 'wsgate.js'), 'utf8');
  const min = await minify(src, { module: true, compress: { passes: 2 }, mangle: { properties: false } });
  const gz = gzipSync(min.code, { level: 9 }).length;
  const line = `wsgate.js: ${src.length} B source, ${min.code.length} B minified (terser), ${gz} B minified+gzipped (limit ${sizeLimit})`;
  t.diagnostic(line);
  console.log(line);
  assert.ok(gz < sizeLimit, line);
});

// pack runs npm pack in web/ and installs the tarball into a new project,
// returning that project's folder.
function packAndInstall() {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-web-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: webDir, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const proj = path.join(dir, 'app');
  execFileSync('mkdir', ['-p', proj]);
  writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, info.filename)], { cwd: proj, stdio: 'pipe' });
  return { info, proj };
}

test('npm pack yields a package that installs and talks to wsgate', async () => {
  const { info, proj } = packAndInstall();
  assert.equal(info.name, '@wsgate/client');
  assert.deepEqual(info.files.map((f) => f.path).sort(), ['README.md', 'package.json', 'wsgate.d.ts', 'wsgate.js']);

  const s = await new Wsgate(['-dev']).start();
  try {
    const wsPath = requireTestDep.resolve('ws');
    writeFileSync(
      path.join(proj, 'main.js'),
      `import { createRequire } from 'node:module';
import { WsgateClient } from '@wsgate/client';
const WebSocket = createRequire(import.meta.url)(${JSON.stringify(wsPath)});
const a = new WsgateClient(process.argv[2] + '?user=a', { WebSocket });
const b = new WsgateClient(process.argv[2] + '?user=b', { WebSocket });
await Promise.all([a.connect(), b.connect()]);
await b.join('pkg.room');
const got = new Promise((resolve) => b.on('message', resolve));
await a.publish('pkg.room', { ok: true });
const m = await got;
console.log(JSON.stringify({ data: m.data, from: m.from }));
a.close();
b.close();
`,
    );
    const out = execFileSync('node', ['main.js', s.wsURL], { cwd: proj, encoding: 'utf8', timeout: 60000 });
    assert.deepEqual(JSON.parse(out), { data: { ok: true }, from: 'a' });
  } finally {
    await s.stop('SIGKILL');
  }
});

const typedProgram = `import { WsgateClient, WsgateError, type JoinResult, type MessageEvent } from '@wsgate/client';
declare const console: { log(...args: unknown[]): void };
const c = new WsgateClient('ws://127.0.0.1:1/ws', { token: async () => 'tok', minDelay: 100, queueLimit: 10 });
c.on('message', (m: MessageEvent) => console.log(m.room, m.data, m.from, m.offset));
c.on('state', (s) => { if (s.state === 'reconnecting') console.log(s.delay, s.code); });
c.on('joined', (j) => console.log(j.recovered, j.rejoin));
c.on('error', (e: WsgateError) => console.log(e.code, e.room));
const j: Promise<JoinResult> = c.join('chat.a', { since: { offset: 1, epoch: 'x' } });
c.join('chat.b', { since: 'last' });
c.publish('chat.a', { text: 'hi', n: [1, 2, null] }).then((r) => r.acked);
c.leave('chat.a').then((r) => r.room);
const st: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' = c.state;
void j; void st; void c.queued;
`;

const misuse = `import { WsgateClient } from '@wsgate/client';
const c = new WsgateClient('ws://x/ws', { tokenIn: 'cookie' });
c.publish(42, 'x');
c.on('nope', () => {});
`;

test('the TypeScript declarations type a program that uses the client, and catch misuse', () => {
  const ts = requireTestDep('typescript');
  const { proj } = packAndInstall();
  // One program for both files (the standard library is parsed once).
  const files = { 'ok.ts': typedProgram, 'bad.ts': misuse };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(proj, name), text);
  const program = ts.createProgram(Object.keys(files).map((f) => path.join(proj, f)), {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: [],
  });
  const diags = { 'ok.ts': [], 'bad.ts': [], other: [] };
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    (diags[path.basename(d.file?.fileName || '')] || diags.other).push(msg);
  }
  assert.deepEqual(diags.other, []);
  assert.deepEqual(diags['ok.ts'], []);
  const bad = diags['bad.ts'];
  assert.equal(bad.length, 3, 'three misuses caught:\n' + bad.join('\n'));
});
