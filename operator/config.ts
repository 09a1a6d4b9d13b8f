import { hostname } from 'node:os';
import type { LeaderElectionConfig } from './controller/leader-election.ts';

export interface OperatorConfig {
  runtimeImage: string;
  metricsAddress: string;
  metricsPort: number;
  watchNamespace: string | undefined;
  workers: number;
  fieldManager: string;
  resyncIntervalMs: number;
  /** How often API discovery is asked whether optional CRDs (Istio's) appeared or went. */
  discoveryIntervalMs: number;
  leaderElection: LeaderElectionConfig & { enabled: boolean };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Reads the operator's settings from its environment (what the Helm chart sets). */
export function loadOperatorConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const namespace = env.MODELSHIP_LEADER_ELECTION_NAMESPACE || env.POD_NAMESPACE || 'modelship-system';
  return {
    runtimeImage: env.MODELSHIP_RUNTIME_IMAGE || 'ghcr.io/modelship/runtime:0.1.0',
    metricsAddress: env.MODELSHIP_METRICS_ADDRESS || '0.0.0.0',
    metricsPort: integer(env, 'MODELSHIP_METRICS_PORT', 8081),
    watchNamespace: env.MODELSHIP_WATCH_NAMESPACE || undefined,
    workers: integer(env, 'MODELSHIP_WORKERS', 8, 1),
    fieldManager: 'modelship-operator',
    resyncIntervalMs: integer(env, 'MODELSHIP_RESYNC_SECONDS', 600, 1) * 1000,
    discoveryIntervalMs: integer(env, 'MODELSHIP_DISCOVERY_INTERVAL_SECONDS', 30, 1) * 1000,
    leaderElection: {
      enabled: env.MODELSHIP_LEADER_ELECTION !== 'false',
      namespace,
      name: env.MODELSHIP_LEADER_ELECTION_LEASE || 'modelship-operator',
      identity: env.POD_NAME || `${hostname()}-${process.pid}`,
      leaseDurationMs: integer(env, 'MODELSHIP_LEASE_DURATION_SECONDS', 15, 1) * 1000,
      renewDeadlineMs: integer(env, 'MODELSHIP_RENEW_DEADLINE_SECONDS', 10, 1) * 1000,
      retryPeriodMs: integer(env, 'MODELSHIP_RETRY_PERIOD_SECONDS', 2, 1) * 1000,
    },
  };
}
