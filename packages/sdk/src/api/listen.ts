/**
 * Listening with a node:http(s) server so that closing it is prompt, shared by the API server and the node
 * driver server: `close()` cuts whatever still holds a connection, including connections that never finished
 * (or never started) their TLS handshake, which `server.close()` alone would wait for until the handshake
 * timeout (120 s).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

export interface Listening {
  /** `host:port` as clients reach it (an IPv6 address in brackets). */
  readonly address: string;
  readonly port: number;
  /** `https://host:port` (`http://` for a plain HTTP server). */
  readonly url: string;
  /** Client connections open (with TLS: past the handshake). */
  readonly connections: number;
  /** Stops listening: idle connections close at once; whatever still holds one is cut on the next turn. */
  close(): Promise<void>;
}

function track(set: Set<Socket>): (s: Socket) => void {
  return (s) => {
    set.add(s);
    s.once('close', () => set.delete(s));
  };
}

export async function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<Listening> {
  const tls = server instanceof TlsServer;
  const connected = new Set<Socket>();
  // With TLS, every TCP connection, those still in their handshake included (they are not in `connected`).
  const raw = new Set<Socket>();
  server.on(tls ? 'secureConnection' : 'connection', track(connected));
  if (tls) server.on('connection', track(raw));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const address = `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    address,
    port: addr.port,
    url: `${tls ? 'https' : 'http'}://${address}`,
    get connections() {
      return connected.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setImmediate(() => {
          for (const s of connected) s.destroy();
          for (const s of raw) s.destroy();
        });
      }),
  };
}
