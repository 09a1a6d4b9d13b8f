import type { Socket } from 'node:net';

/**
 * Keep-alive connections older than a limit are told to close after their next response. Behind a
 * Service without a mesh, traffic is balanced per connection: a client's long-lived connections
 * would stay on the pods that existed when it connected, so a new replica (a canary's, a scale-up's)
 * would get none of its traffic.
 */
export class ConnectionAges {
  private readonly born = new WeakMap<Socket, number>();

  constructor(private readonly maxAgeMs: number) {}

  /** The server's 'connection' listener. */
  readonly track = (socket: Socket): void => {
    if (this.maxAgeMs > 0) this.born.set(socket, performance.now());
  };

  /** Whether this connection has served long enough: answer with `Connection: close`. */
  expired(socket: Socket): boolean {
    if (this.maxAgeMs <= 0) return false;
    const born = this.born.get(socket);
    return born !== undefined && performance.now() - born >= this.maxAgeMs;
  }
}
