// Type declarations for wsgate.js, the client of wsgate's /ws endpoint.

/** Anything JSON.stringify turns into JSON. */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** A position in a room's history. */
export interface Position {
  offset: number;
  epoch: string;
}

/** Where a join starts: after a position, or the server's "last". */
export type Since = Position | 'last';

/** The minimal WebSocket the client drives (the browser's, npm ws, SockJS). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}

/** A WebSocket constructor: the browser's WebSocket or npm ws. */
export type SocketConstructor = new (url: string, protocols?: string | string[], options?: any) => SocketLike;

export interface ClientOptions {
  /** A token, or a (possibly async) function called before every connection and before a JWT's exp. */
  token?: string | (() => string | Promise<string>);
  /** How the token travels: "protocol" (Sec-WebSocket-Protocol: bearer, TOKEN; default), "query" (?access_token=) or "header" (Authorization; npm ws only). */
  tokenIn?: 'protocol' | 'query' | 'header';
  /** Subprotocols to offer besides the bearer pair. */
  protocols?: string[];
  /** The WebSocket constructor; default globalThis.WebSocket (pass npm ws in Node 20). */
  WebSocket?: SocketConstructor;
  /** "websocket" (default) or "sockjs" (needs sockjs-client: options.SockJS or globalThis.SockJS; the token goes in the query). */
  transport?: 'websocket' | 'sockjs';
  /** The SockJS constructor, for transport "sockjs". */
  SockJS?: new (url: string, reserved?: null, options?: any) => SocketLike;
  /** Options passed to SockJS. */
  sockjsOptions?: object;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** First retry delay, ms (500). */
  minDelay?: number;
  /** Retry delay ceiling, ms (30000). */
  maxDelay?: number;
  /** Growth of the delay per failed attempt (2). */
  factor?: number;
  /** Each delay is cut by a random share up to this (0.5). */
  jitter?: number;
  /** Least delay after a 1008 policy close, ms (10000). */
  policyDelay?: number;
  /** A connection open this long resets the backoff, ms (10000). */
  stableAfter?: number;
  /** Publishes held while offline; more are rejected with code "queue_full" (1000). */
  queueLimit?: number;
  /** Renew a JWT from the token function this long before its exp, ms (30000; at most half its remaining life). */
  refreshBefore?: number;
}

/** The client's connection state. */
export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateEvent {
  state: State;
  prev: State;
  /** Close code of the connection that ended ("reconnecting", "closed"). */
  code?: number;
  reason?: string;
  /** Wait before the next attempt, ms ("reconnecting"). */
  delay?: number;
  /** Failed attempts since the last stable connection. */
  attempt?: number;
  /** A token refresh put a new connection in service ("open" to "open"). */
  refreshed?: boolean;
}

export interface MessageEvent {
  /** The room; absent for messages sent to the user. */
  room?: string;
  /** The JSON value published, or the bytes of a binary message. */
  data: JSONValue | Uint8Array;
  /** The publisher's user id, when it has one. */
  from?: string;
  /** The message's place in the room's history, when the room keeps one. */
  offset?: number;
  epoch?: string;
  /** The message was binary (data is a Uint8Array). */
  binary: boolean;
}

export interface JoinResult {
  room: string;
  /** The join resumed from the position asked for without a gap. */
  recovered: boolean;
  /** The room's current position, when it keeps history. */
  offset?: number;
  epoch?: string;
}

export interface JoinedEvent extends JoinResult {
  /** A join made again on a new connection (reconnect or token refresh). */
  rejoin: boolean;
}

export interface PublishResult {
  room: string;
  /** true: the server acknowledged it; false: it was sent (the server sends no acknowledgements). */
  acked: boolean;
}

export interface EventMap {
  state: StateEvent;
  message: MessageEvent;
  joined: JoinedEvent;
  error: WsgateError;
}

/** An error from the server ("forbidden", "bad_request", "not_joined", "too_many_rooms", "rate_limited") or the client ("closed", "queue_full", "left", "token", "token_expired", "transport", "refresh", "bad_message"). */
export class WsgateError extends Error {
  code: string;
  room?: string;
  id?: string | number;
  /** The close code, for errors caused by a close. */
  closeCode?: number;
}

export class WsgateClient {
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly state: State;
  /** Publishes waiting for a connection. */
  readonly queued: number;
  /** Opens the connection; resolves once it is open, after retries if need be. */
  connect(): Promise<void>;
  /** Closes for good: no reconnect, pending promises reject with code "closed". */
  close(code?: number, reason?: string): void;
  /** Starts a pending reconnect now instead of after its delay. */
  retryNow(): void;
  /** Renews the token now on a new connection that replaces the current one. */
  refresh(): void;
  /**
   * Joins a room (again on every reconnect) and resolves on the server's
   * "joined"; a join refused as "overloaded" is asked again with backoff.
   */
  join(room: string, options?: { since?: Since }): Promise<JoinResult>;
  /** Leaves a room; resolves on the server's "left", at once when not connected. */
  leave(room: string): Promise<{ room: string }>;
  /** Publishes a JSON value; queued while offline. */
  publish(room: string, data: JSONValue): Promise<PublishResult>;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof EventMap>(type: K, fn: (ev: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(type: K, fn: (ev: EventMap[K]) => void): void;
}
