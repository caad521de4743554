// A tiny WAMP v2 client (wamp.2.json over WebSocket) for the live page: HELLO/WELCOME with
// anonymous or ticket authentication, SUBSCRIBE/EVENT, UNSUBSCRIBE, PUBLISH/PUBLISHED,
// GOODBYE/ABORT. No build step, no dependencies.

const HELLO = 1, WELCOME = 2, ABORT = 3, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6, ERROR = 8;
const PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, UNSUBSCRIBE = 34, UNSUBSCRIBED = 35, EVENT = 36;

export class WampError extends Error {
  constructor(uri, message) {
    super(message || uri);
    this.uri = uri;
  }
}

export class WampClient {
  constructor(url, realm) {
    this.url = url;
    this.realm = realm;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // request id → { resolve, reject, onSubscribed? }
    this.handlers = new Map(); // subscription id → handler
    this.onclose = () => {};
  }

  /** resolves with WELCOME.Details; rejects with a WampError (ABORT reason) */
  connect(credentials) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, ['wamp.2.json']);
      this.ws = ws;
      let joined = false;
      ws.onopen = () => {
        const details = { roles: { subscriber: { features: { pattern_based_subscription: true, publisher_identification: true } }, publisher: { features: { publisher_exclusion: true } } } };
        if (credentials) Object.assign(details, { authmethods: ['ticket'], authid: credentials.authid });
        this.send([HELLO, this.realm, details]);
      };
      ws.onmessage = (e) => {
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return ws.close(3002, 'invalid JSON');
        }
        if (!joined) {
          if (msg[0] === WELCOME) {
            joined = true;
            this.session = msg[1];
            resolve(msg[2]);
          } else if (msg[0] === CHALLENGE && credentials) {
            this.send([AUTHENTICATE, credentials.ticket, {}]);
          } else if (msg[0] === ABORT) {
            reject(new WampError(msg[2], msg[1] && msg[1].message));
          }
          return;
        }
        this.dispatch(msg);
      };
      ws.onclose = (e) => {
        for (const p of this.pending.values()) p.reject(new WampError('wamp.error.network_failure', 'connection closed'));
        this.pending.clear();
        this.handlers.clear();
        if (!joined) reject(new WampError('wamp.error.network_failure', `connection closed (${e.code})`));
        else this.onclose(e);
      };
    });
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  request(message, extra) {
    const id = this.nextId++;
    message[1] = id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...extra });
      this.send(message);
    });
  }

  dispatch(msg) {
    const [code] = msg;
    if (code === EVENT) {
      const handler = this.handlers.get(msg[1]);
      if (handler) handler({ publication: msg[2], details: msg[3] || {}, args: msg[4] || [], kwargs: msg[5] || {} });
      return;
    }
    if (code === GOODBYE) {
      this.send([GOODBYE, {}, 'wamp.close.goodbye_and_out']);
      this.ws.close(1000);
      return;
    }
    if (code === ABORT) {
      this.ws.close(1000);
      return;
    }
    const id = code === ERROR ? msg[2] : msg[1];
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (code === ERROR) return p.reject(new WampError(msg[4], msg[3] && msg[3].message));
    if (code === SUBSCRIBED) {
      this.handlers.set(msg[2], p.handler);
      return p.resolve(msg[2]);
    }
    if (code === PUBLISHED) return p.resolve(msg[2]);
    if (code === UNSUBSCRIBED) return p.resolve();
  }

  /** resolves with the subscription id once SUBSCRIBED */
  subscribe(topic, match, handler) {
    return this.request([SUBSCRIBE, 0, match === 'exact' ? {} : { match }, topic], { handler });
  }

  unsubscribe(subscriptionId) {
    this.handlers.delete(subscriptionId);
    return this.request([UNSUBSCRIBE, 0, subscriptionId]);
  }

  /** resolves with the publication id (acknowledged publish) */
  publish(topic, args, options) {
    const msg = [PUBLISH, 0, { acknowledge: true, ...options }, topic];
    if (args !== undefined) msg.push(args);
    return this.request(msg);
  }

  close() {
    if (this.ws) this.ws.close(1000);
  }
}
