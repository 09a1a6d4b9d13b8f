import { loadOperatorConfig } from './config.ts';
import { ModelDeploymentController } from './controller/controller.ts';
import { EventRecorder } from './controller/event-recorder.ts';
import { LeaderElector } from './controller/leader-election.ts';
import { LeaseHealth } from './controller/lease-health.ts';
import { startHealthServer } from './health-server.ts';
import { loadKubeConnection } from './kube/connection.ts';
import { KubeRestClient } from './kube/rest-client.ts';
import { createLogger } from './logging.ts';
import { OperatorMetrics } from './metrics.ts';

const config = loadOperatorConfig();
const log = createLogger(config.logLevel);
const metrics = new OperatorMetrics();
const client = new KubeRestClient(await loadKubeConnection(), (verb, resource) => (verb === 'get' || verb === 'list' ? metrics.apiReads : metrics.apiWrites).inc({ verb, resource }));
const recorder = new EventRecorder(client, config.leaderElection.identity, log);
const controller = new ModelDeploymentController({
  client, recorder, metrics, log,
  options: config.options,
  fieldManager: config.fieldManager,
  workers: config.workers,
  namespace: config.watchNamespace,
  resyncIntervalMs: config.resyncIntervalMs,
  discoveryIntervalMs: config.discoveryIntervalMs,
  registryPollMs: config.registryPollMs,
  ...(config.admissionPolicy && { admissionPolicy: config.admissionPolicy }),
});

let leading = false;
let controllerStarted: Promise<void> | undefined;
const lease = config.leaderElection.enabled ? new LeaseHealth(config.leaderElection, log) : undefined;
const health = await startHealthServer(config.metricsAddress, config.metricsPort, {
  metrics,
  // A standby is ready once it reaches the lease; the leader once its caches have synced.
  notReadyReason: () => lease?.problem?.message ?? (leading && !controller.synced ? 'caches not synced yet' : undefined),
});
log.info({ port: health.port, identity: config.leaderElection.identity }, 'operator serving /healthz, /readyz, /metrics');

const startController = () => {
  leading = true;
  metrics.isLeader.set(1);
  controllerStarted = controller.start();
  controllerStarted.catch((error: unknown) => {
    log.fatal({ err: error }, 'controller failed to start');
    process.exit(1);
  });
};

const elector = lease
  ? new LeaderElector(client, config.leaderElection, {
    onStartedLeading: () => {
      log.info('became leader');
      startController();
    },
    onStoppedLeading: () => {
      // Like controller-runtime: a replica that lost its lease exits and restarts as a standby,
      // so two replicas never reconcile at once.
      log.error('lost leadership; exiting');
      process.exit(1);
    },
    onNewLeader: (identity) => log.info({ leader: identity }, 'leader observed'),
    onRenewFailed: (error) => log.warn({ err: error }, 'could not renew the leader lease; retrying until the renew deadline'),
    onAcquireFailed: (error) => lease.failed(error),
    onLeaseReached: () => lease.reached(),
  })
  : undefined;

if (elector) void elector.run();
else startController();

let shuttingDown = false;
const shutdown = async (signal: string) => {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => process.exit(1), 20_000);
  deadline.unref();
  await controllerStarted?.catch(() => undefined);
  await controller.stop();
  await recorder.flush();
  await elector?.release();
  health.server.close();
  log.info('stopped');
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
