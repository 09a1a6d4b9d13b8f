import type { Server } from 'node:http';

export interface Drain {
  /** Requests being answered now (held ones included). */
  readonly inFlight: number;
  /**
   * Stops taking connections, closes the idle ones, and resolves once every request in flight is
   * answered (true) or after `timeoutMs` (false).
   */
  close(timeoutMs: number): Promise<boolean>;
}

/**
 * A stopping activator finishes the requests it holds: a rolling update of its pods (a chart
 * upgrade) comes while models are starting, and each held request is a client waiting for its
 * first answer. kube-proxy may still send a new connection to a pod that is stopping for a moment;
 * that one is held and answered too.
 */
export function drainable(server: Server): Drain {
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) onDrained?.();
    });
  });
  return {
    get inFlight() {
      return inFlight;
    },
    close(timeoutMs) {
      server.close();
      server.closeIdleConnections();
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        onDrained = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
  };
}
