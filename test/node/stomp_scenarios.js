// STOMP checks with @stomp/stompjs against a live wsgate, shared by the
// Node driver (stomp_client.js, with npm ws) and the browser driver
// (stomp_browser.js, headless Chromium loading stompjs's browser bundle).
//
// run(env) runs every check and resolves with [{check, ok, error}]. env:
//   StompJs    the library (require('@stomp/stompjs') or window.StompJs)
//   ws(url, protocols)  a WebSocket constructor call for this platform
//   url        ws://HOST:PORT/stomp
//   tokens     {alice, bob, carol}: JWTs (see the Go driver for claims)
//   adminPost(path, body) optional: POST to the admin API, resolves status
//   app        optional: true when -stomp-app-url points at the test backend
//   timeoutMs  per awaited event (a hang guard, not a timing)
(function (root) {
  'use strict';

  function deferred() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  // Queue of values to await in order.
  class Inbox {
    constructor(env, what) { this.env = env; this.what = what; this.items = []; this.waiters = []; }
    push(v) { const w = this.waiters.shift(); if (w) w.resolve(v); else this.items.push(v); }
    next() {
      if (this.items.length) return Promise.resolve(this.items.shift());
      const d = deferred();
      const timer = setTimeout(() => { this.waiters = this.waiters.filter((x) => x !== d); d.reject(new Error('timed out waiting for ' + this.what)); }, this.env.timeoutMs);
      this.waiters.push({ resolve: (v) => { clearTimeout(timer); d.resolve(v); } });
      return d.promise;
    }
  }

  function assert(cond, msg) { if (!cond) throw new Error(msg); }

  // connect resolves with {client, frame, pongs, errors, closed} once
  // CONNECTED arrives; it rejects on an ERROR or a close before that.
  function connect(env, opts) {
    opts = opts || {};
    const d = deferred();
    const state = { pongs: 0, errors: new Inbox(env, 'ERROR'), closes: new Inbox(env, 'close') };
    const client = new env.StompJs.Client({
      webSocketFactory: () => env.ws(env.url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      connectHeaders: opts.headers || {},
      heartbeatIncoming: opts.hbIn || 0,
      heartbeatOutgoing: opts.hbOut || 0,
      reconnectDelay: 0,
      debug: (s) => { if (s.indexOf('<<< PONG') >= 0) state.pongs++; },
      onConnect: (frame) => { state.client = client; state.frame = frame; d.resolve(state); },
      onStompError: (frame) => { state.errors.push(frame); d.reject(new Error('ERROR: ' + frame.headers.message)); },
      onWebSocketClose: (evt) => { state.closes.push(evt); d.reject(new Error('closed ' + evt.code)); },
    });
    client.activate();
    const t = setTimeout(() => d.reject(new Error('no CONNECTED')), env.timeoutMs);
    return d.promise.finally(() => clearTimeout(t)).catch((e) => { e.state = state; client.deactivate(); throw e; });
  }

  // subscribe subscribes and resolves with an inbox of its messages once
  // the RECEIPT came back.
  function subscribe(env, c, dest, headers) {
    const box = new Inbox(env, 'MESSAGE on ' + dest);
    const receipt = 'sub-' + Math.random().toString(36).slice(2);
    const got = deferred();
    c.client.watchForReceipt(receipt, () => got.resolve());
    box.sub = c.client.subscribe(dest, (m) => box.push(m), Object.assign({ receipt }, headers || {}));
    return withTimeout(env, got.promise, 'RECEIPT of SUBSCRIBE ' + dest).then(() => box);
  }

  function withTimeout(env, p, what) {
    let t;
    const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timed out waiting for ' + what)), env.timeoutMs); });
    return Promise.race([p, timeout]).finally(() => clearTimeout(t));
  }

  function publishWithReceipt(env, c, params) {
    const receipt = 'pub-' + Math.random().toString(36).slice(2);
    const got = deferred();
    c.client.watchForReceipt(receipt, () => got.resolve());
    params.headers = Object.assign({ receipt }, params.headers || {});
    c.client.publish(params);
    return withTimeout(env, got.promise, 'RECEIPT of SEND to ' + params.destination);
  }

  const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  const checks = [];
  const check = (name, fn) => checks.push({ name, fn });

  check('connect-heartbeats', async (env) => {
    const c = await connect(env, { headers: { passcode: env.tokens.alice }, hbIn: 500, hbOut: 500 });
    try {
      assert(c.frame.headers.version === '1.2', 'version ' + c.frame.headers.version);
      assert(c.frame.headers['heart-beat'] === '500,500', 'heart-beat ' + c.frame.headers['heart-beat']);
      assert(c.frame.headers.session, 'no session header');
      // Wait for three of the server's heart-beats (hang guard only).
      await withTimeout(env, new Promise((res) => { const i = setInterval(() => { if (c.pongs >= 3) { clearInterval(i); res(); } }, 50); }), 'server heart-beats');
    } finally { await c.client.deactivate(); }
  });

  check('topic-publish-receipts', async (env) => {
    const a = await connect(env, { headers: { Authorization: 'Bearer ' + env.tokens.alice } });
    const b = await connect(env, { headers: { passcode: env.tokens.bob } });
    try {
      const box = await subscribe(env, a, '/topic/chat.js');
      for (let i = 0; i < 20; i++) await publishWithReceipt(env, b, { destination: '/topic/chat.js', body: 'm' + i });
      for (let i = 0; i < 20; i++) {
        const m = await box.next();
        assert(m.body === 'm' + i, 'got ' + m.body + ' want m' + i);
        assert(m.headers.destination === '/topic/chat.js' && m.headers['message-id'], 'headers ' + JSON.stringify(m.headers));
      }
      b.client.publish({ destination: '/topic/chat.js', body: JSON.stringify({ x: 1 }), headers: { 'content-type': 'application/json' } });
      const j = await box.next();
      assert(j.headers['content-type'] === 'application/json' && JSON.parse(j.body).x === 1, 'json ' + j.body);
    } finally { await a.client.deactivate(); await b.client.deactivate(); }
  });

  check('binary-nul-bodies', async (env) => {
    const a = await connect(env, { headers: { passcode: env.tokens.alice } });
    try {
      const box = await subscribe(env, a, '/topic/chat.bin');
      const bin = new Uint8Array([0, 1, 0, 255, 254, 0, 65, 0]);
      await publishWithReceipt(env, a, { destination: '/topic/chat.bin', binaryBody: bin, headers: { 'content-type': 'application/octet-stream' } });
      const m = await box.next();
      assert(equalBytes(m.binaryBody, bin), 'binary body ' + Array.from(m.binaryBody));
      await publishWithReceipt(env, a, { destination: '/topic/chat.bin', body: 'a\u0000b' });
      const t = await box.next();
      assert(t.body === 'a\u0000b', 'text with NUL: ' + JSON.stringify(t.body));
    } finally { await a.client.deactivate(); }
  });

  // Large bodies: with permessage-deflate (both clients offer it) these
  // go compressed, each subscription's head as a stored block in front of
  // the body compressed once.
  check('large-bodies-deflate', async (env) => {
    const a = await connect(env, { headers: { passcode: env.tokens.alice } });
    try {
      const box = await subscribe(env, a, '/topic/chat.big');
      const box2 = await subscribe(env, a, '/topic/chat.big', { id: 'second' });
      let text = '';
      for (let i = 0; text.length < 20000; i++) text += 'line ' + i + ' of a long message\n';
      await publishWithReceipt(env, a, { destination: '/topic/chat.big', body: text });
      for (const b of [box, box2]) {
        const m = await b.next();
        assert(m.body === text, 'large text body differs (' + m.body.length + ' bytes)');
      }
      const bin = new Uint8Array(30000).map((_, i) => (i * 7) & 255);
      await publishWithReceipt(env, a, { destination: '/topic/chat.big', binaryBody: bin, headers: { 'content-type': 'application/octet-stream' } });
      for (const b of [box, box2]) {
        const m = await b.next();
        assert(equalBytes(m.binaryBody, bin), 'large binary body differs');
      }
    } finally { await a.client.deactivate(); }
  });

  check('queue-ack-nack-redelivery', async (env) => {
    const a = await connect(env, { headers: { passcode: env.tokens.alice } });
    const b = await connect(env, { headers: { passcode: env.tokens.alice } });
    const p = await connect(env, { headers: { passcode: env.tokens.alice } });
    try {
      const qa = await subscribe(env, a, '/queue/jobs', { ack: 'client-individual' });
      const qb = await subscribe(env, b, '/queue/jobs', { ack: 'client-individual' });
      for (let i = 0; i < 4; i++) await publishWithReceipt(env, p, { destination: '/queue/jobs', body: 'job' + i });
      const ga = [await qa.next(), await qa.next()];
      const gb = [await qb.next(), await qb.next()];
      const bodies = ga.concat(gb).map((m) => m.body).sort();
      assert(bodies.join() === 'job0,job1,job2,job3', 'round robin got ' + bodies);
      // A NACKs its first message: it goes to B, marked redelivered.
      ga[0].nack();
      const r = await qb.next();
      assert(r.body === ga[0].body && r.headers.redelivered === 'true', 'redelivered ' + r.body + ' ' + JSON.stringify(r.headers));
      r.ack();
      gb.forEach((m) => m.ack());
      // A leaves with its second message unacknowledged: B gets it.
      await a.client.deactivate();
      const r2 = await qb.next();
      assert(r2.body === ga[1].body, 'after consumer left got ' + r2.body);
      r2.ack();
    } finally { await a.client.deactivate(); await b.client.deactivate(); await p.client.deactivate(); }
  });

  check('transactions', async (env) => {
    const a = await connect(env, { headers: { passcode: env.tokens.alice } });
    try {
      const box = await subscribe(env, a, '/topic/chat.tx');
      const tx = a.client.begin();
      a.client.publish({ destination: '/topic/chat.tx', body: 'in-tx-1', headers: { transaction: tx.id } });
      a.client.publish({ destination: '/topic/chat.tx', body: 'in-tx-2', headers: { transaction: tx.id } });
      await publishWithReceipt(env, a, { destination: '/topic/chat.tx', body: 'outside' });
      let m = await box.next();
      assert(m.body === 'outside', 'held SEND went out before COMMIT: ' + m.body);
      tx.commit();
      assert((await box.next()).body === 'in-tx-1', 'first committed');
      assert((await box.next()).body === 'in-tx-2', 'second committed');
      const tx2 = a.client.begin();
      a.client.publish({ destination: '/topic/chat.tx', body: 'aborted', headers: { transaction: tx2.id } });
      tx2.abort();
      await publishWithReceipt(env, a, { destination: '/topic/chat.tx', body: 'marker' });
      m = await box.next();
      assert(m.body === 'marker', 'aborted SEND delivered: ' + m.body);
    } finally { await a.client.deactivate(); }
  });

  check('user-destinations', async (env) => {
    const a1 = await connect(env, { headers: { passcode: env.tokens.alice } });
    const a2 = await connect(env, { headers: { passcode: env.tokens.alice } });
    const b = await connect(env, { headers: { passcode: env.tokens.bob } });
    try {
      const i1 = await subscribe(env, a1, '/user/queue/inbox');
      const i2 = await subscribe(env, a2, '/user/queue/inbox');
      await publishWithReceipt(env, b, { destination: '/user/alice/queue/inbox', body: 'from bob' });
      assert((await i1.next()).body === 'from bob', 'session 1');
      assert((await i2.next()).body === 'from bob', 'session 2');
      if (env.adminPost) {
        const st = await env.adminPost('/api/users/alice/send', JSON.stringify({ payload: 'from admin', destination: '/user/queue/inbox' }));
        assert(st === 200, 'admin status ' + st);
        const m = await i1.next();
        assert(m.body === 'from admin' && m.headers.destination === '/user/queue/inbox', 'admin ' + m.body);
        assert((await i2.next()).body === 'from admin', 'admin session 2');
      }
    } finally { await a1.client.deactivate(); await a2.client.deactivate(); await b.client.deactivate(); }
  });

  check('app-forwarding', async (env) => {
    if (!env.app) return 'skipped';
    const a = await connect(env, { headers: { passcode: env.tokens.alice } });
    try {
      const greet = await subscribe(env, a, '/topic/greetings');
      const reply = await subscribe(env, a, '/user/queue/reply');
      const errors = await subscribe(env, a, '/user/queue/errors');
      await publishWithReceipt(env, a, { destination: '/app/greet', body: 'ann', headers: { 'x-trace': 't1' } });
      const g = await greet.next();
      assert(g.body === 'hello ann from alice (t1)', 'greeting ' + g.body);
      const r = await reply.next();
      assert(r.body === 'done', 'reply ' + r.body);
      a.client.publish({ destination: '/app/fail', body: 'x' });
      const e = await errors.next();
      assert(/status 500/.test(e.headers.message) && e.headers.message.indexOf('/app/fail') >= 0, 'error ' + e.headers.message);
    } finally { await a.client.deactivate(); }
  });

  check('token-required', async (env) => {
    let err;
    try { const c = await connect(env, {}); await c.client.deactivate(); } catch (e) { err = e; }
    assert(err && /token is required/.test(err.message), 'no token: ' + (err && err.message));
    err = undefined;
    try { const c = await connect(env, { headers: { passcode: 'not-a-token' } }); await c.client.deactivate(); } catch (e) { err = e; }
    assert(err && /authentication failed/.test(err.message), 'bad token: ' + (err && err.message));
  });

  check('refused-subscribe', async (env) => {
    const b = await connect(env, { headers: { passcode: env.tokens.bob } });
    b.client.subscribe('/topic/secret.plans', () => {});
    const e = await b.errors.next();
    assert(e.headers.message.indexOf('/topic/secret.plans') >= 0, 'ERROR ' + e.headers.message);
    const closed = await b.closes.next();
    assert(closed.code === 1008, 'close code ' + closed.code);
    await b.client.deactivate();
  });

  check('error-on-bad-frame', async (env) => {
    const ws = env.ws(env.url, ['v12.stomp']);
    ws.binaryType = 'arraybuffer';
    const msgs = new Inbox(env, 'raw message');
    const closed = deferred();
    ws.onmessage = (e) => msgs.push(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data));
    ws.onclose = (e) => closed.resolve(e.code);
    await withTimeout(env, new Promise((res) => { ws.onopen = res; }), 'open');
    ws.send('CONNECT\naccept-version:1.2\npasscode:' + env.tokens.alice + '\n\n\u0000');
    const c = await msgs.next();
    assert(c.indexOf('CONNECTED') === 0, 'CONNECTED ' + c);
    ws.send('GARBAGE\n\n\u0000');
    const e = await msgs.next();
    assert(e.indexOf('ERROR\n') === 0 && e.indexOf('message:unknown command') > 0, 'ERROR ' + JSON.stringify(e));
    const code = await withTimeout(env, closed.promise, 'close');
    assert(code === 1002, 'close code ' + code);
  });

  async function run(env) {
    const results = [];
    for (const c of checks) {
      try {
        const r = await c.fn(env);
        results.push({ check: c.name, ok: true, skipped: r === 'skipped' });
      } catch (e) {
        results.push({ check: c.name, ok: false, error: String(e && e.message || e) });
      }
      if (env.log) env.log(results[results.length - 1]);
    }
    return results;
  }

  const api = { run, names: checks.map((c) => c.name) };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.StompScenarios = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
