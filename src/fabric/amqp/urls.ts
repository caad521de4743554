// Broker URLs: one per vhost (the configured URL with its vhost path replaced), and a form
// without the password for messages and logs.

/** the vhost a URL names ('' path → '/') */
export function vhostOfUrl(url: string): string {
  const path = new URL(url).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

/** the URL with `vhost` as its vhost; a heartbeat of `heartbeatSeconds` unless the URL sets one */
export function urlForVhost(url: string, vhost: string, heartbeatSeconds?: number): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  if (heartbeatSeconds !== undefined && !u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(heartbeatSeconds));
  return u.toString();
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
