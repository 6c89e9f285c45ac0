// A stand-in for the parts of wsgate's /ws protocol that the gateway does
// not speak yet, so the client's handling of them is exercised over real
// sockets: publish acknowledgements ({"type":"published","id":...}) and
// rooms with history (offset and epoch on messages, "since" on join,
// "recovered" on joined). Built on npm ws; one process-local history.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import { WebSocket, requireTestDep } from './helpers.mjs';

const { WebSocketServer } = WebSocket;

export class StandIn {
  // options: acks (answer publishes with an id), holdAcks (receive them
  // but do not answer yet), history (offsets and replay), replayFirst
  // (replay before the joined reply instead of after), keep (messages kept
  // per room), overloadJoins (refuse that many joins with "overloaded", as
  // a full fan-out queue does). Options may change while it runs.
  constructor(options = {}) {
    this.o = { acks: true, history: true, replayFirst: false, keep: 100, ...options };
    this.epoch = 'e' + Math.random().toString(36).slice(2, 8);
    this.rooms = new Map(); // name -> {offset, log, members}
    this.joins = []; // every join command received, for the tests to inspect
    this.published = []; // every publish command received
    this.sockets = new Set();
  }

  async listen() {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws', handleProtocols: (p) => (p.has('bearer') ? 'bearer' : false) });
    await new Promise((resolve) => this.wss.once('listening', resolve));
    this.wss.on('connection', (ws) => this.serve(ws));
    this.url = `ws://127.0.0.1:${this.wss.address().port}/ws`;
    return this;
  }

  // listenSockJS serves the same protocol over SockJS (npm sockjs) at
  // /sockjs; this.urls records each session's request URL.
  async listenSockJS() {
    const sockjs = requireTestDep('sockjs');
    this.http = http.createServer();
    const server = sockjs.createServer({ prefix: '/sockjs', log: () => {} });
    this.urls = [];
    server.on('connection', (conn) => {
      this.urls.push(conn.url);
      const ws = new EventEmitter();
      ws.send = (text) => conn.write(text);
      ws.close = (code, reason) => conn.close(code, reason);
      ws.terminate = () => conn.close(3000, 'dropped');
      conn.on('data', (text) => ws.emit('message', text));
      conn.on('close', () => ws.emit('close'));
      this.serve(ws);
    });
    server.installHandlers(this.http);
    await new Promise((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.http.address().port}/sockjs`;
    return this;
  }

  room(name) {
    let r = this.rooms.get(name);
    if (!r) this.rooms.set(name, (r = { offset: 0, log: [], members: new Set() }));
    return r;
  }

  serve(ws) {
    this.sockets.add(ws);
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const r of this.rooms.values()) r.members.delete(ws);
    });
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      const send = (obj) => ws.send(JSON.stringify(obj));
      const r = this.room(m.room);
      if (m.type === 'join') {
        this.joins.push(m);
        if (this.o.overloadJoins > 0) {
          this.o.overloadJoins--;
          return send({ type: 'error', code: 'overloaded', room: m.room, id: m.id, message: 'the room\'s fan-out queue is full; try again later' });
        }
        r.members.add(ws);
        const reply = { type: 'joined', room: m.room, id: m.id };
        let replay = [];
        if (this.o.history) {
          const s = m.since;
          const first = r.log.length ? r.log[0].offset : r.offset + 1;
          reply.recovered = !!(s && s.epoch === this.epoch && s.offset + 1 >= first && s.offset <= r.offset);
          if (reply.recovered) replay = r.log.filter((e) => e.offset > s.offset);
          Object.assign(reply, { offset: r.offset, epoch: this.epoch });
        }
        if (this.o.replayFirst) replay.forEach(send);
        send(reply);
        if (!this.o.replayFirst) replay.forEach(send);
      } else if (m.type === 'leave') {
        r.members.delete(ws);
        send({ type: 'left', room: m.room, id: m.id });
      } else if (m.type === 'publish') {
        const env = { type: 'message', room: m.room, data: m.data };
        if (this.o.history) {
          Object.assign(env, { offset: ++r.offset, epoch: this.epoch });
          r.log.push(env);
          if (r.log.length > this.o.keep) r.log.shift();
        }
        for (const peer of r.members) if (peer !== ws) peer.send(JSON.stringify(env));
        this.published.push(m);
        if (this.o.acks && m.id != null && !this.o.holdAcks) send({ type: 'published', id: m.id });
      }
    });
  }

  // publish puts a message into a room as another publisher would.
  publish(room, data) {
    const r = this.room(room);
    const env = { type: 'message', room, data, offset: ++r.offset, epoch: this.epoch };
    r.log.push(env);
    if (r.log.length > this.o.keep) r.log.shift();
    for (const peer of r.members) peer.send(JSON.stringify(env));
  }

  // drop closes every connection with code (abruptly when code is 1006).
  drop(code = 1006) {
    for (const ws of this.sockets) code === 1006 ? ws.terminate() : ws.close(code, 'stand-in');
  }

  close() {
    for (const ws of this.sockets) ws.terminate();
    if (this.http) {
      this.http.closeAllConnections();
      return new Promise((resolve) => this.http.close(resolve));
    }
    return new Promise((resolve) => this.wss.close(resolve));
  }
}
