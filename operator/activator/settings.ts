import { LOG_LEVELS } from '../../runtime/contract.ts';
import type { ChartedSetting } from '../settings.ts';
import { readEnum, readInteger, readString, type Env } from '../../runtime/env-settings.ts';

/** The activator's settings contract: every environment variable it reads, with type, default and range. */
export const ActivatorSettings = {
  address: { name: 'MODELSHIP_ACTIVATOR_ADDRESS', type: 'string', default: '0.0.0.0', doc: 'Address the held model traffic and `/metrics` listen on.' },
  port: { name: 'MODELSHIP_ACTIVATOR_PORT', type: 'integer', default: 8012, min: 0, max: 65535, doc: 'Port of the model traffic the activator holds (the `http` port of a scaled-to-zero model leads here); `0` picks a free one.', chart: { value: 'activator.port' } },
  metricsPort: { name: 'MODELSHIP_ACTIVATOR_METRICS_PORT', type: 'integer', default: 9090, min: 0, max: 65535, doc: 'Port of `/metrics` and `/healthz`; `0` picks a free one.', chart: { value: 'activator.metricsPort' } },
  holdSeconds: { name: 'MODELSHIP_ACTIVATOR_HOLD_SECONDS', type: 'integer', default: 120, min: 1, max: 3600, doc: "How long a request waits for its model's first ready pod before a 503.", chart: { value: 'activator.holdSeconds' } },
  maxBodyBytes: { name: 'MODELSHIP_ACTIVATOR_MAX_BODY_BYTES', type: 'integer', default: 64 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, doc: 'Largest request body held while a model starts (larger: 413).', chart: { value: 'activator.maxBodyBytes' } },
  logLevel: { name: 'MODELSHIP_LOG_LEVEL', type: 'enum', values: LOG_LEVELS, default: 'info', doc: 'Log level of the JSON log lines on stdout.', chart: { value: 'activator.logLevel' } },
} as const satisfies Record<string, ChartedSetting>;

export interface ActivatorConfig {
  address: string;
  port: number;
  metricsPort: number;
  holdMs: number;
  maxBodyBytes: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

export function loadActivatorConfig(env: Env = process.env): ActivatorConfig {
  const S = ActivatorSettings;
  return {
    address: readString(env, S.address),
    port: readInteger(env, S.port),
    metricsPort: readInteger(env, S.metricsPort),
    holdMs: readInteger(env, S.holdSeconds) * 1000,
    maxBodyBytes: readInteger(env, S.maxBodyBytes),
    logLevel: readEnum(env, S.logLevel),
  };
}
