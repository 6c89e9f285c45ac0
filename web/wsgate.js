// wsgate.js: a client for wsgate's multi-room endpoint (/ws), for browsers
// and Node 20. One ES module, no dependencies.
//
//   const client = new WsgateClient('wss://example.com/ws', { token: getToken });
//   client.on('message', (m) => console.log(m.room, m.data, m.from));
//   await client.join('chat.lobby');
//   await client.publish('chat.lobby', { text: 'hello' });
//
// The client keeps the rooms it was asked to join and joins them again on
// every new connection, resuming from the last offset it saw where a room
// keeps history. Publishes made while offline wait in a bounded queue.
// Connections that drop are retried with jittered exponential backoff, which
// the close code shapes: quick after a restart (1012) or a drain (1001), slow
// after a policy close (1008), and after "token expired" (4001) only with a
// token function that can give a new token.

const OPEN = 1;

/** An error reported by the server or the client; code names the kind. */
export class WsgateError extends Error {
  constructor(code, message, extra) {
    super(message);
    this.name = 'WsgateError';
    this.code = code;
    Object.assign(this, extra);
  }
}

const defaults = {
  minDelay: 500, // first retry delay (ms)
  maxDelay: 30000, // backoff ceiling (ms)
  factor: 2, // backoff growth per failed attempt
  jitter: 0.5, // each delay is cut by a random share up to this
  policyDelay: 10000, // least delay after a 1008 policy close (ms)
  stableAfter: 10000, // a connection open this long resets the backoff (ms)
  queueLimit: 1000, // publishes held while offline
  refreshBefore: 30000, // renew a JWT this long before its exp (ms)
  tokenIn: 'protocol', // 'protocol', 'query' or 'header' (Node's ws only)
  transport: 'websocket', // or 'sockjs'
  reconnect: true,
};

/** Client for wsgate's /ws endpoint. */
export class WsgateClient {
  constructor(url, options = {}) {
    this.url = url;
    this.o = { ...defaults, ...options };
    this.state = 'idle';
    this.rooms = new Map(); // wanted rooms: name -> {offset, epoch, since, joined, info, waiters}
    this.queue = []; // publishes waiting for a connection
    this.ls = {}; // listeners by event type
    this.attempt = 0; // failed attempts since the last stable connection
    this.seq = 0; // last command id
    this.conn = null; // the connection in service
    this.next = null; // a connection being prepared to replace it (token refresh)
    this.timer = null; // reconnect timer
    this.rtimer = null; // token refresh timer
    this.token = null; // token of the last dial
    this.waitOpen = [];
    this.online = () => this.state === 'reconnecting' && this.retryNow();
  }

  /** Subscribes fn to events of type; returns a function that unsubscribes. */
  on(type, fn) {
    (this.ls[type] ||= new Set()).add(fn);
    return () => this.off(type, fn);
  }

  /** Unsubscribes fn from events of type. */
  off(type, fn) {
    this.ls[type]?.delete(fn);
  }

  emit(type, ev) {
    for (const fn of this.ls[type] || []) {
      try {
        fn(ev);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  setState(state, extra) {
    const prev = this.state;
    this.state = state;
    this.emit('state', { state, prev, ...extra });
  }

  /** Opens the connection; resolves when it is open (after retries, if any). */
  connect() {
    if (this.state === 'open') return Promise.resolve();
    const p = new Promise((resolve, reject) => this.waitOpen.push({ resolve, reject }));
    if (this.state === 'idle' || this.state === 'closed') {
      globalThis.addEventListener?.('online', this.online);
      this.dial(false);
    }
    return p;
  }

  /** Skips the wait of a pending reconnect. */
  retryNow() {
    if (this.state !== 'reconnecting') return;
    clearTimeout(this.timer);
    this.dial(false);
  }

  /** Closes the connection for good; pending promises reject. */
  close(code = 1000, reason = '') {
    if (this.state === 'closed') return;
    clearTimeout(this.timer);
    clearTimeout(this.rtimer);
    globalThis.removeEventListener?.('online', this.online);
    for (const c of [this.conn, this.next]) if (c) this.drop(c, code, reason);
    this.conn = this.next = null;
    this.setState('closed', { code, reason });
    this.failAll(new WsgateError('closed', 'wsgate: client closed'));
  }

  failAll(err) {
    for (const q of this.queue) q.reject(err);
    this.queue = [];
    for (const r of this.rooms.values()) for (const w of r.waiters) w.reject(err);
    this.rooms.clear();
    for (const w of this.waitOpen) w.reject(err);
    this.waitOpen = [];
  }

  async getToken() {
    const t = this.o.token;
    return typeof t === 'function' ? await t() : t;
  }

  // dial opens a connection: the one in service, or with asNext one that
  // will replace it once it has joined every room.
  async dial(asNext) {
    if (!asNext) this.setState('connecting', { attempt: this.attempt });
    let token;
    try {
      token = await this.getToken();
    } catch (err) {
      this.emit('error', new WsgateError('token', 'wsgate: token function failed: ' + err?.message, { cause: err }));
      if (!asNext) this.retry(this.backoff(this.attempt++), 'token function failed');
      return;
    }
    if (this.state === 'closed' || (!asNext && this.state !== 'connecting')) return;
    if (asNext && (this.state !== 'open' || token === this.conn?.token)) return; // nothing new to switch to
    let ws;
    try {
      ws = this.socket(token);
    } catch (err) {
      this.emit('error', new WsgateError('transport', 'wsgate: ' + err.message, { cause: err }));
      if (!asNext) this.retry(this.backoff(this.attempt++), err.message);
      return;
    }
    const c = { ws, token, acks: false, pend: new Map(), rooms: new Map(), info: new Map(), dead: false };
    if (asNext) this.next = c;
    else this.conn = c;
    ws.onopen = () => !c.dead && this.opened(c);
    ws.onmessage = (ev) => !c.dead && this.received(c, ev.data);
    ws.onerror = (ev) => !c.dead && this.emit('error', new WsgateError('transport', 'wsgate: ' + (ev?.message || ev?.error?.message || 'connection error')));
    ws.onclose = (ev) => !c.dead && this.closed(c, ev.code, ev.reason || '');
  }

  socket(token) {
    const o = this.o;
    let url = this.url;
    const protos = [...(o.protocols || [])];
    const query = () => token && (url += (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token));
    if (o.transport === 'sockjs') {
      const SockJS = o.SockJS || globalThis.SockJS;
      if (!SockJS) throw new Error('SockJS transport chosen but sockjs-client is not loaded');
      query();
      return new SockJS(url, null, o.sockjsOptions);
    }
    const WS = o.WebSocket || globalThis.WebSocket;
    if (!WS) throw new Error('no WebSocket: pass one in the options (npm ws in Node 20)');
    if (token && o.tokenIn === 'header') {
      return new WS(url, protos, { headers: { Authorization: 'Bearer ' + token } });
    }
    if (o.tokenIn === 'query') query();
    else if (token) protos.push('bearer', token);
    return new WS(url, protos);
  }

  opened(c) {
    c.openedAt = Date.now();
    this.schedule(c.token);
    if (c === this.next) {
      this.sync(c);
      this.maybeSwitch();
      return;
    }
    this.setState('open');
    for (const w of this.waitOpen) w.resolve();
    this.waitOpen = [];
    this.sync(c);
    this.flush();
  }

  // sync sends the joins and leaves that make c's rooms the wanted ones.
  sync(c) {
    for (const [room, r] of this.rooms) this.joinOn(c, room, r);
    for (const [room, st] of c.rooms) if (!this.rooms.has(room) && st !== 'leaving') this.leaveOn(c, room);
  }

  joinOn(c, room, r) {
    const st = c.rooms.get(room);
    if (st === 'joining' || st === 'joined' || st === 'waiting') return;
    const msg = { type: 'join', room, id: ++this.seq };
    if (r.epoch != null && r.offset != null) msg.since = { offset: r.offset, epoch: r.epoch };
    else if (r.since != null) msg.since = r.since;
    c.rooms.set(room, 'joining');
    c.pend.set(msg.id, { kind: 'join', room });
    this.send(c, msg);
  }

  leaveOn(c, room, p = {}) {
    if (c.ws.readyState !== OPEN) {
      c.rooms.delete(room);
      return p.resolve?.({ room });
    }
    const id = ++this.seq;
    c.rooms.set(room, 'leaving');
    c.pend.set(id, { kind: 'leave', room, ...p });
    this.send(c, { type: 'leave', room, id });
  }

  send(c, msg) {
    if (c.ws.readyState !== OPEN) return false;
    c.ws.send(JSON.stringify(msg));
    return true;
  }

  flush() {
    const c = this.conn;
    while (this.queue.length && c?.ws.readyState === OPEN && !c.retiring) this.sendPub(c, this.queue.shift());
  }

  sendPub(c, item) {
    const id = ++this.seq;
    this.send(c, { type: 'publish', room: item.room, data: item.data, id });
    if (c.acks) c.pend.set(id, { kind: 'pub', ...item });
    else item.resolve({ room: item.room, acked: false });
  }

  /** Joins room, resolving with {room, recovered, offset, epoch} once joined. */
  join(room, options = {}) {
    if (this.state === 'closed') return Promise.reject(new WsgateError('closed', 'wsgate: client closed'));
    let r = this.rooms.get(room);
    if (!r) {
      const s = options.since;
      r = { waiters: [], since: s, offset: s?.offset, epoch: s?.epoch, joined: false, tries: 0, timer: null };
      this.rooms.set(room, r);
    }
    if (r.joined) return Promise.resolve(r.info);
    const p = new Promise((resolve, reject) => r.waiters.push({ resolve, reject }));
    if (this.conn?.ws.readyState === OPEN) this.joinOn(this.conn, room, r);
    return p;
  }

  /** Leaves room; resolves when the server confirms (at once when offline). */
  leave(room) {
    const r = this.rooms.get(room);
    this.rooms.delete(room);
    if (r) clearTimeout(r.timer);
    if (r) for (const w of r.waiters) w.reject(new WsgateError('left', 'wsgate: left before joined', { room }));
    const n = this.next;
    if (n && n.rooms.has(room) && n.rooms.get(room) !== 'leaving') this.leaveOn(n, room);
    const st = this.conn?.rooms.get(room);
    if (!st || st === 'leaving') return Promise.resolve({ room });
    return new Promise((resolve, reject) => this.leaveOn(this.conn, room, { resolve, reject }));
  }

  /** Publishes data (any JSON value) to room. */
  publish(room, data) {
    return new Promise((resolve, reject) => {
      const item = { room, data, resolve, reject };
      const c = this.conn;
      if (this.state === 'closed') reject(new WsgateError('closed', 'wsgate: client closed'));
      else if (c?.ws.readyState === OPEN && !c.retiring && !this.queue.length) this.sendPub(c, item);
      else if (this.queue.length >= this.o.queueLimit) {
        reject(new WsgateError('queue_full', `wsgate: outgoing queue full (${this.o.queueLimit} messages)`, { room }));
      } else this.queue.push(item);
    });
  }

  /** The number of publishes waiting for a connection. */
  get queued() {
    return this.queue.length;
  }

  received(c, raw) {
    let m;
    try {
      m = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
    } catch {
      this.emit('error', new WsgateError('bad_message', 'wsgate: server sent text that is not JSON'));
      return;
    }
    const p = m.id != null ? c.pend.get(m.id) : undefined;
    if (p) c.pend.delete(m.id);
    switch (m.type) {
      case 'message':
        return this.message(c, m);
      case 'joined':
        return this.joined(c, m);
      case 'left':
        if (c.rooms.get(m.room) === 'leaving') c.rooms.delete(m.room);
        p?.resolve?.({ room: m.room });
        return this.retired(c);
      case 'published':
        c.acks = true;
        p?.resolve?.({ room: p.room, acked: true });
        return this.retired(c);
      case 'error':
        return this.failed(c, m, p);
    }
  }

  message(c, m) {
    const r = m.room != null ? this.rooms.get(m.room) : null;
    if (m.room != null && !r) return; // a room left, or not joined yet
    if (r && m.offset != null) {
      if (r.epoch === m.epoch && r.offset != null && m.offset <= r.offset) return; // seen already
      if (c !== this.conn && c !== this.next) return;
      r.offset = m.offset;
      r.epoch = m.epoch;
    } else if (c !== this.conn) return; // without offsets only the connection in service delivers
    let data = m.data;
    if (m.encoding === 'base64') data = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
    this.emit('message', { room: m.room, data, from: m.from, offset: m.offset, epoch: m.epoch, binary: m.encoding === 'base64' });
  }

  joined(c, m) {
    const room = m.room;
    const r = this.rooms.get(room);
    if (c.rooms.get(room) === 'joining') c.rooms.set(room, 'joined');
    if (c !== this.conn && c !== this.next) return;
    if (!r) {
      if (c.rooms.get(room) === 'joined') this.leaveOn(c, room);
      return;
    }
    if (m.epoch != null && (!m.recovered || r.epoch !== m.epoch)) {
      r.offset = m.offset;
      r.epoch = m.epoch;
    }
    r.since = undefined;
    r.tries = 0;
    const info = { room, recovered: !!m.recovered, offset: m.offset, epoch: m.epoch };
    if (c === this.conn) this.ready(r, info);
    else {
      c.info.set(room, info);
      this.maybeSwitch();
    }
  }

  ready(r, info) {
    const rejoin = !!r.info;
    r.joined = true;
    r.info = info;
    for (const w of r.waiters) w.resolve(info);
    r.waiters = [];
    this.emit('joined', { ...info, rejoin });
  }

  failed(c, m, p) {
    const err = new WsgateError(m.code, m.message || m.code, { room: m.room, id: m.id });
    if (p?.kind === 'join') {
      c.rooms.delete(p.room);
      const r = this.rooms.get(p.room);
      if (r && m.code === 'overloaded') {
        this.joinLater(c, p.room, r);
      } else if (r && !r.joined) {
        this.rooms.delete(p.room);
        for (const w of r.waiters) w.reject(err);
      }
      if (c === this.next) this.maybeSwitch();
    } else if (p?.kind === 'leave') {
      c.rooms.delete(p.room);
      p.resolve?.({ room: p.room });
    } else p?.reject?.(err);
    this.emit('error', err);
    this.retired(c);
  }

  // joinLater asks c to join room again after a backoff: the room's
  // fan-out queue was full (a storm of reconnects, a burst of messages),
  // which passes. The room stays wanted meanwhile; its join promise waits.
  joinLater(c, room, r) {
    c.rooms.set(room, 'waiting');
    clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      if (c.dead || this.rooms.get(room) !== r || c.rooms.get(room) !== 'waiting') return;
      c.rooms.delete(room);
      this.joinOn(c, room, r);
    }, this.backoff(r.tries++));
  }

  closed(c, code, reason) {
    this.drop(c);
    if (c === this.next) {
      this.next = null;
      this.emit('error', new WsgateError('refresh', `wsgate: connection with the new token closed (${code} ${reason})`, { closeCode: code }));
      return;
    }
    if (c !== this.conn) return;
    this.conn = null;
    if (this.next) this.drop(this.next);
    this.next = null;
    for (const r of this.rooms.values()) r.joined = false;
    if (c.openedAt && Date.now() - c.openedAt >= this.o.stableAfter) this.attempt = 0;
    if (this.state === 'closed') return;
    if (!this.o.reconnect) {
      this.setState('closed', { code, reason });
      this.failAll(new WsgateError('closed', `wsgate: connection closed (${code} ${reason})`, { closeCode: code }));
      return;
    }
    const o = this.o;
    if (code === 4001 && typeof o.token !== 'function') {
      const err = new WsgateError('token_expired', 'wsgate: token expired and no token function to renew it', { closeCode: code });
      this.setState('closed', { code, reason });
      this.emit('error', err);
      this.failAll(err);
      return;
    }
    if (code === 1012 || code === 1001) {
      this.attempt = 0;
      return this.retry(Math.random() * o.minDelay, reason, code);
    }
    const delay = this.backoff(this.attempt++);
    this.retry(code === 1008 ? Math.max(delay, o.policyDelay) : delay, reason, code);
  }

  // drop detaches c and settles what waited on it: acknowledged publishes
  // go back to the front of the queue to be sent again.
  drop(c, code = 1000, reason = '') {
    c.dead = true;
    if (c.ws.readyState <= OPEN) c.ws.close(code, reason);
    const again = [];
    for (const p of c.pend.values()) {
      if (p.kind === 'pub') again.push(p);
      else p.resolve?.({ room: p.room });
    }
    c.pend.clear();
    this.queue.unshift(...again);
    if (again.length) this.flush();
  }

  backoff(n) {
    const o = this.o;
    return Math.min(o.maxDelay, o.minDelay * o.factor ** n) * (1 - o.jitter * Math.random());
  }

  retry(delay, reason, code) {
    this.setState('reconnecting', { code, reason, delay, attempt: this.attempt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dial(false), delay);
  }

  // schedule arranges a new token before this one's exp, when the token is
  // a JWT and comes from a function.
  schedule(token) {
    clearTimeout(this.rtimer);
    const exp = typeof this.o.token === 'function' && jwtExp(token);
    if (!exp) return;
    const left = exp * 1000 - Date.now();
    const wait = left - Math.min(this.o.refreshBefore, left / 2);
    this.rtimer = setTimeout(() => this.refresh(), Math.min(Math.max(wait, 1000), 2 ** 31 - 1));
  }

  /** Renews the token now: a new connection replaces the current one. */
  refresh() {
    if (this.state !== 'open' || this.next) return;
    this.dial(true);
  }

  // maybeSwitch puts the next connection in service once every room it
  // joins is joined; the old one is closed when its acknowledgements are in.
  maybeSwitch() {
    const n = this.next;
    if (!n || n.ws.readyState !== OPEN) return;
    for (const st of n.rooms.values()) if (st === 'joining' || st === 'waiting') return;
    const old = this.conn;
    this.conn = n;
    this.next = null;
    for (const [room, r] of this.rooms) {
      if (n.info.has(room)) this.ready(r, n.info.get(room));
    }
    this.sync(n);
    this.flush();
    this.emit('state', { state: 'open', prev: 'open', refreshed: true });
    if (old) {
      old.retiring = true;
      this.retired(old);
      setTimeout(() => this.drop(old, 1000, 'token refreshed'), 5000);
    }
  }

  retired(c) {
    if (c.retiring && ![...c.pend.values()].some((p) => p.kind === 'pub')) this.drop(c, 1000, 'token refreshed');
  }
}

// jwtExp returns a JWT's exp claim (seconds), or 0.
function jwtExp(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return +JSON.parse(atob(part + '==='.slice((part.length + 3) % 4))).exp || 0;
  } catch {
    return 0;
  }
}
