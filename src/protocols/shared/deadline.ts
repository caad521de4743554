// A one-shot timer for "the client must do X within N ms" (CONNECT/HELLO within
// limits.connectTimeoutMs). Unref'd: it never keeps the process alive.

export interface Deadline {
  cancel(): void;
  readonly expired: boolean;
}

export function startDeadline(ms: number, onExpire: () => void): Deadline {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    onExpire();
  }, ms);
  timer.unref();
  return {
    cancel: () => clearTimeout(timer),
    get expired() {
      return expired;
    },
  };
}
