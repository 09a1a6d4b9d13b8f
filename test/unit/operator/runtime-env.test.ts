import { expect } from 'chai';
import { loadConfig } from '../../../runtime/config.ts';
import { RuntimeContract, RuntimeEnv } from '../../../runtime/contract.ts';
import { SpecDefaults } from '../../../operator/api/schema.ts';
import type { ModelDeployment } from '../../../operator/api/types.ts';
import { DEFAULT_S3_FETCHER_IMAGE } from '../../../operator/desired/options.ts';
import { modelSource } from '../../../operator/desired/model-source.ts';
import { revisionOf } from '../../../operator/desired/revision.ts';
import { runtimeEnv } from '../../../operator/desired/runtime-env.ts';
import { modelDeployment } from './fixtures.ts';

const contractNames = new Set<string>(Object.values(RuntimeContract).map((setting) => setting.name));

function envFor(md: ModelDeployment) {
  return runtimeEnv(md, modelSource(md, DEFAULT_S3_FETCHER_IMAGE), revisionOf(md));
}

/** The env as the runtime process sees it (valueFrom entries are resolved by the kubelet, so left out). */
function processEnv(md: ModelDeployment): Record<string, string> {
  return Object.fromEntries(envFor(md).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

const everything = modelDeployment({
  runtime: {
    executionProviders: ['cuda', 'cpu'],
    gpus: 1,
    threads: { intraOp: 3, interOp: 2 },
    batching: { maxBatchSize: 128, maxQueueDelayMs: 7, preferredBatchSizes: [64, 16], maxQueueSize: 99 },
    maxConcurrentRuns: 4,
    rateLimit: { requestsPerSecond: 50, burst: 80, totalRequestsPerSecond: 400 },
    logLevel: 'debug',
    env: [{ name: 'OMP_WAIT_POLICY', value: 'PASSIVE' }],
  },
  security: { authSecret: { name: 'fraud-token' } },
});

describe('runtime env builder (operator/desired/runtime-env.ts) against the runtime contract', () => {
  it('emits only contract variables, then the user env', () => {
    const names = envFor(everything).map((e) => e.name);
    expect(names.at(-1)).to.equal('OMP_WAIT_POLICY');
    for (const name of names.slice(0, -1)) expect(contractNames.has(name), `${name} is in runtime/contract.ts`).to.equal(true);
    expect(names).to.include(RuntimeEnv.authTokenFile);
    expect(names).to.not.include(RuntimeEnv.authToken);
  });

  it('writes an env the runtime parses back to the spec values', () => {
    const config = loadConfig(processEnv(everything));
    expect(config.session).to.deep.equal({ providers: ['cuda', 'cpu'], deviceId: RuntimeContract.deviceId.default, intraOpThreads: 3, interOpThreads: 2, inferenceThread: RuntimeContract.inferenceThread.default });
    expect(config.batching).to.deep.equal({ maxBatchSize: 128, maxQueueDelayMs: 7, preferredBatchSizes: [16, 64], maxQueueSize: 99, maxConcurrentRuns: 4 });
    expect(config.logLevel).to.equal('debug');
    expect(config.rateLimit).to.deep.equal({ requestsPerSecond: 50, burst: 80, totalRequestsPerSecond: 400 });
    expect(config.model).to.include({ name: 'fraud-detector', version: '2', uri: everything.spec.model.uri, sha256: everything.spec.model.sha256 });
    expect(config.revision).to.equal(revisionOf(everything));
  });

  it('gives a spec without runtime settings the CRD defaults, which are the contract defaults', () => {
    const config = loadConfig(processEnv(modelDeployment()));
    expect(config.batching.maxBatchSize).to.equal(SpecDefaults.maxBatchSize).and.to.equal(RuntimeContract.maxBatchSize.default);
    expect(config.batching.maxQueueDelayMs).to.equal(SpecDefaults.maxQueueDelayMs).and.to.equal(RuntimeContract.maxQueueDelayMs.default);
    expect(config.batching.maxQueueSize).to.equal(RuntimeContract.maxQueueSize.default);
    expect(config.batching.maxConcurrentRuns).to.equal(RuntimeContract.maxConcurrentRuns.default);
    expect(config.rateLimit, 'no limit unless the spec sets one').to.deep.equal({ requestsPerSecond: 0, burst: 0, totalRequestsPerSecond: 0 });
    expect(config.session.providers).to.deep.equal(RuntimeContract.executionProviders.default);
    expect(config.logLevel).to.equal(RuntimeContract.logLevel.default);
  });

  it('spec.tracing becomes the standard OTEL_* variables, which the runtime reads back', () => {
    const traced = modelDeployment({ tracing: { endpoint: 'http://otel-collector.observability:4318', samplingRatio: 0.05, protocol: 'http/json' } });
    const env = processEnv(traced);
    expect(env).to.include({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.05',
      OTEL_SERVICE_NAME: traced.metadata.name,
      OTEL_RESOURCE_ATTRIBUTES: `k8s.namespace.name=${traced.metadata.namespace ?? 'default'},modelship.revision=${revisionOf(traced)}`,
    });
    expect(loadConfig(env).tracing).to.deep.equal({ protocol: 'http/json', sampler: 'parentbased_traceidratio', ratio: 0.05, serviceName: traced.metadata.name });
  });

  it('without spec.tracing no OTEL_* variable is set, so the runtime does not trace', () => {
    const env = processEnv(everything);
    expect(Object.keys(env).filter((name) => name.startsWith('OTEL_'))).to.deep.equal([]);
    expect(loadConfig(env)).not.to.have.property('tracing');
  });

  it('without a ratio the runtime default applies (every new trace)', () => {
    const env = processEnv(modelDeployment({ tracing: { endpoint: 'http://c:4318' } }));
    expect(env).not.to.have.property('OTEL_TRACES_SAMPLER_ARG');
    expect(loadConfig(env).tracing?.ratio).to.equal(RuntimeContract.otelTracesSamplerArg.default);
  });
});
