'use strict';
// Helpers shared by the Node test clients.

// Inbox turns pushed values into awaitable ones: next() resolves with the
// next value, or rejects on timeout or once fail() was called. A client
// wires its WebSocket's events to push and fail.
class Inbox {
  // what names a value in the timeout error ("echo", "message").
  constructor(what) {
    this.what = what;
    this.items = [];
    this.waiter = null;
    this.failure = null;
  }

  push(item) {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(item);
    } else {
      this.items.push(item);
    }
  }

  fail(err) {
    if (!this.failure) this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  next(timeoutMs) {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no ${this.what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }
}

// withTimeout rejects with "<what> within <ms> ms" unless promise settles
// first.
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// parseSize reads a byte count such as 125, 64KiB or 16MiB.
function parseSize(text) {
  const m = /^\s*(\d+)\s*(b|kib|mib)?\s*$/i.exec(text);
  if (!m) throw new Error(`bad size ${JSON.stringify(text)}`);
  const unit = (m[2] || 'b').toLowerCase();
  const mult = unit === 'mib' ? 1 << 20 : unit === 'kib' ? 1 << 10 : 1;
  return Number(m[1]) * mult;
}

module.exports = { Inbox, withTimeout, parseSize };
