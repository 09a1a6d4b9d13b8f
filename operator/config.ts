import { hostname } from 'node:os';
import type { LeaderElectionConfig } from './controller/leader-election.ts';
import type { OperatorOptions } from './desired/options.ts';
import { readBoolean, readEnum, readInteger, readString, type Env } from '../runtime/env-settings.ts';
import { OperatorSettings as S } from './settings.ts';

import { ConfigError } from '../runtime/env-settings.ts';

export { ConfigError };

export interface OperatorConfig {
  options: Required<Omit<OperatorOptions, 'prometheusUrl' | 'activator'>> & Pick<OperatorOptions, 'prometheusUrl' | 'activator'>;
  logLevel: (typeof S.logLevel.values)[number];
  metricsAddress: string;
  metricsPort: number;
  watchNamespace: string | undefined;
  /** The admission policy that checks ModelDeployment authors; undefined: authors trusted. */
  admissionPolicy: string | undefined;
  /** How often a models:/ reference is resolved again, unless its ModelDeployment says. */
  registryPollMs: number;
  workers: number;
  fieldManager: string;
  resyncIntervalMs: number;
  /** How often API discovery is asked whether optional CRDs (Istio's) appeared or went. */
  discoveryIntervalMs: number;
  leaderElection: LeaderElectionConfig & { enabled: boolean };
}

function activatorRef(value: string | undefined): Pick<OperatorOptions, 'activator'> {
  if (!value) return {};
  const [namespace, name, ...rest] = value.split('/');
  if (!namespace || !name || rest.length > 0) throw new ConfigError(`${S.activatorService.name} must be <namespace>/<name>, not ${JSON.stringify(value)}`);
  return { activator: { namespace, name } };
}

/** Reads the operator's settings from its environment (what the Helm chart sets), as operator/settings.ts describes them. */
export function loadOperatorConfig(env: Env = process.env): OperatorConfig {
  const seconds = (setting: Parameters<typeof readInteger>[1]) => readInteger(env, setting) * 1000;
  const prometheusUrl = readString(env, S.prometheusUrl);
  return {
    options: {
      defaultRuntimeImage: readString(env, S.runtimeImage),
      clusterDomain: readString(env, S.clusterDomain),
      s3FetcherImage: readString(env, S.s3FetcherImage),
      prometheusNamespace: readString(env, S.prometheusNamespace),
      ...(prometheusUrl && { prometheusUrl }),
      ...activatorRef(readString(env, S.activatorService)),
    },
    logLevel: readEnum(env, S.logLevel),
    metricsAddress: readString(env, S.metricsAddress),
    metricsPort: readInteger(env, S.metricsPort),
    watchNamespace: readString(env, S.watchNamespace),
    admissionPolicy: readString(env, S.admissionPolicy),
    registryPollMs: seconds(S.registryPollSeconds),
    workers: readInteger(env, S.workers),
    fieldManager: 'modelship-operator',
    resyncIntervalMs: seconds(S.resyncSeconds),
    discoveryIntervalMs: seconds(S.discoveryIntervalSeconds),
    leaderElection: {
      enabled: readBoolean(env, S.leaderElection),
      namespace: readString(env, S.leaderElectionNamespace) ?? readString(env, S.podNamespace),
      name: readString(env, S.leaderElectionLease),
      identity: readString(env, S.podName) ?? `${hostname()}-${process.pid}`,
      leaseDurationMs: seconds(S.leaseDurationSeconds),
      renewDeadlineMs: seconds(S.renewDeadlineSeconds),
      retryPeriodMs: seconds(S.retryPeriodSeconds),
    },
  };
}
