import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** host:port of the relay's listening side. */
  address: string;
  /** Drops every open connection and refuses new ones until `restore()`: the client is cut off, the server untouched. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay to `target` (TLS passes through untouched), so a test can cut one client
 * off the apiserver while everyone else keeps talking to it.
 */
export async function startTcpRelay(target: { host: string; port: number }, listen: { host?: string } = {}): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as { address: string; port: number };
  const cut = () => {
    refusing = true;
    for (const socket of open) socket.destroy();
  };
  return {
    address: `${address}:${port}`,
    cut,
    restore() {
      refusing = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
