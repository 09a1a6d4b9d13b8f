import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.ts';

export interface HealthSources {
  metrics: OperatorMetrics;
  /** Why the operator is not ready (answered with 503), or undefined when it is. */
  notReadyReason: () => string | undefined;
}

/** /healthz, /readyz and /metrics for the kubelet and Prometheus. */
export async function startHealthServer(address: string, port: number, sources: HealthSources): Promise<{ server: Server; port: number }> {
  const app = express();
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    const reason = sources.notReadyReason();
    if (reason === undefined) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'not ready', reason });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(sources.metrics.registry.contentType).send(await sources.metrics.registry.metrics());
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, address, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  return { server, port: (server.address() as AddressInfo).port };
}
