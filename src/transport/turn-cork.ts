// Everything written to a socket during one turn of the event loop leaves in one writev:
// the first write of a turn corks the socket, and one setImmediate per process (not per
// socket) uncorks every socket corked in that turn. Without it every WebSocket frame (a WAMP
// EVENT, RESULT, INVOCATION: one send each) is its own syscall and TCP segment. Order and
// write callbacks are unchanged: corked writes complete, in order, when the batch is flushed.

interface Corkable {
  cork(): void;
  uncork(): void;
}

let corked = new Set<Corkable>();
let scheduled = false;

/** cork `socket` until the check phase of this turn (a no-op if it is corked already) */
export function corkForTurn(socket: Corkable): void {
  if (corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  if (!scheduled) {
    scheduled = true;
    setImmediate(uncorkAll);
  }
}

function uncorkAll(): void {
  const batch = corked;
  corked = new Set();
  scheduled = false;
  for (const socket of batch) socket.uncork();
}
