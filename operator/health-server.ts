import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.ts';

export interface HealthSources {
  metrics: OperatorMetrics;
  /** Ready once caches synced (leader) or once standing by (non-leader). */
  ready: () => boolean;
}

/** /healthz, /readyz and /metrics for the kubelet and Prometheus. */
export async function startHealthServer(address: string, port: number, sources: HealthSources): Promise<{ server: Server; port: number }> {
  const app = express();
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res) => {
    if (sources.ready()) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(sources.metrics.registry.contentType).send(await sources.metrics.registry.metrics());
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, address, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  return { server, port: (server.address() as AddressInfo).port };
}
