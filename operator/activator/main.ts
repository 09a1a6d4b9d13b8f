import express from 'express';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { HTTP_PORT_NAME } from '../desired/deployment.ts';
import { loadKubeConnection } from '../kube/connection.ts';
import { KubeRestClient } from '../kube/rest-client.ts';
import { createLogger } from '../logging.ts';
import { ActivatorMetrics } from './metrics.ts';
import { ReadyEndpoints } from './ready-endpoints.ts';
import { drainable } from './drain.ts';
import { createActivatorServer } from './server.ts';
import { loadActivatorConfig } from './settings.ts';

const config = loadActivatorConfig();
const log = createLogger(config.logLevel);
const metrics = new ActivatorMetrics();
const endpoints = new ReadyEndpoints(new KubeRestClient(await loadKubeConnection()), HTTP_PORT_NAME);
await endpoints.start();

const app = express();
app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
app.get('/metrics', async (_req, res) => { res.type(metrics.registry.contentType).send(await metrics.registry.metrics()); });
const metricsServer = app.listen(config.metricsPort, config.address);
await once(metricsServer, 'listening');

const server = createActivatorServer(endpoints, metrics, config, log);
server.listen(config.port, config.address);
await once(server, 'listening');
log.info({ port: (server.address() as AddressInfo).port, metricsPort: (metricsServer.address() as AddressInfo).port }, 'activator holding requests for scaled-to-zero models');

const drain = drainable(server);
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal, inFlight: drain.inFlight }, 'shutting down: finishing the requests held');
  // The pods' readiness keeps coming in while held requests wait for it; it stops last.
  const drained = await drain.close(config.holdMs + 1_000);
  if (!drained) log.warn({ inFlight: drain.inFlight }, 'requests still held after the hold time; dropping them');
  metricsServer.close();
  await endpoints.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
