import { OTLP_PROTOCOLS, RuntimeContract as C, TRACES_SAMPLERS } from '../contract.ts';
import { ConfigError, readBoolean, readEnum, readNumber, readString, type Env } from '../env-settings.ts';

export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

/** What the runtime decides itself; the OTLP exporter and the resource detector read the rest of OTEL_* on their own. */
export interface TracingSettings {
  readonly protocol: OtlpProtocol;
  readonly sampler: TracesSampler;
  /** Share of new traces the *traceidratio samplers record. */
  readonly ratio: number;
  /** OTEL_SERVICE_NAME; unset: the model name. */
  readonly serviceName?: string;
}

const RESOURCE_ATTRIBUTE = /^[^=,\s][^=,]*=[^,]*$/;

/** Checked here so a typo fails the start with a message; the SDK's env detector applies them (and drops malformed ones silently). */
function checkResourceAttributes(env: Env): void {
  const value = readString(env, C.otelResourceAttributes);
  if (value === undefined) return;
  const bad = value.split(',').find((entry) => !RESOURCE_ATTRIBUTE.test(entry.trim()));
  if (bad !== undefined) throw new ConfigError(`${C.otelResourceAttributes.name} entry "${bad}" is invalid: expected key=value pairs separated by commas`);
}

function checkUrl(env: Env, setting: typeof C.otelEndpoint | typeof C.otelTracesEndpoint): string | undefined {
  const value = readString(env, setting);
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${setting.name}=${value} is invalid: expected an http:// or https:// URL`);
  }
  return value;
}

/**
 * Tracing is on when an OTLP endpoint is set (or OTEL_TRACES_EXPORTER=otlp asks for the default
 * one), unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none; off, it costs nothing.
 */
export function loadTracingSettings(env: Env): TracingSettings | undefined {
  const endpoint = checkUrl(env, C.otelEndpoint);
  const tracesEndpoint = checkUrl(env, C.otelTracesEndpoint);
  const exporterAsked = Boolean(env[C.otelTracesExporter.name]?.trim());
  const exporter = readEnum(env, C.otelTracesExporter);
  const serviceName = readString(env, C.otelServiceName);
  checkResourceAttributes(env);
  const settings: TracingSettings = {
    protocol: readEnum(env, C.otelProtocol),
    sampler: readEnum(env, C.otelTracesSampler),
    ratio: readNumber(env, C.otelTracesSamplerArg),
    ...(serviceName ? { serviceName } : {}),
  };
  if (readBoolean(env, C.otelSdkDisabled) || exporter === 'none') return undefined;
  return endpoint !== undefined || tracesEndpoint !== undefined || exporterAsked ? settings : undefined;
}
