import { expect } from 'chai';
import { ConfigError, loadConfig, type RuntimeConfig } from '../../../runtime/config.ts';
import { RuntimeContract, RuntimeEnv, type RuntimeSettingKey } from '../../../runtime/contract.ts';
import type { IntegerSetting } from '../../../runtime/env-settings.ts';

const URI = { [RuntimeEnv.modelUri]: 'm.onnx' };

type IntegerKey = { [K in RuntimeSettingKey]: (typeof RuntimeContract)[K] extends IntegerSetting ? K : never }[RuntimeSettingKey];

/** Where each integer setting lands in the parsed config; typed so a new integer setting needs a line here. */
const integerValue: Record<IntegerKey, (config: RuntimeConfig) => number> = {
  port: (c) => c.port,
  grpcPort: (c) => c.grpcPort,
  deviceId: (c) => c.session.deviceId,
  intraOpThreads: (c) => c.session.intraOpThreads,
  interOpThreads: (c) => c.session.interOpThreads,
  maxBatchSize: (c) => c.batching.maxBatchSize,
  maxQueueDelayMs: (c) => c.batching.maxQueueDelayMs,
  maxQueueSize: (c) => c.batching.maxQueueSize,
  maxConcurrentRuns: (c) => c.batching.maxConcurrentRuns,
  maxBodyBytes: (c) => c.maxBodyBytes,
  decodeOffloadBytes: (c) => c.decodeOffloadBytes,
  shutdownGraceMs: (c) => c.shutdownGraceMs,
  headersTimeoutMs: (c) => c.headersTimeoutMs,
  requestTimeoutMs: (c) => c.requestTimeoutMs,
  rateLimitRps: (c) => c.rateLimit.requestsPerSecond,
  rateLimitBurst: (c) => c.rateLimit.burst,
  rateLimitTotalRps: (c) => c.rateLimit.totalRequestsPerSecond,
  authTokenReloadSeconds: (c) => c.auth.reloadMs / 1000,
  tlsReloadSeconds: (c) => c.tlsReloadMs / 1000,
  maxConnectionAgeSeconds: (c) => c.maxConnectionAgeMs / 1000,
  keepAliveTimeoutSeconds: (c) => c.keepAliveTimeoutMs / 1000,
};

describe('unit: runtime config parser derived from the contract (runtime/contract.ts)', () => {
  it('reads every variable of the contract and no other MODELSHIP_* or OTEL_* variable', () => {
    const read = new Set<string>();
    const env = new Proxy(URI, {
      get: (target, name) => {
        if (typeof name === 'string') read.add(name);
        return Reflect.get(target, name);
      },
    });
    loadConfig(env);
    const contract = Object.values(RuntimeContract).map((setting) => setting.name).sort();
    expect([...read].filter((name) => /^(MODELSHIP|OTEL)_/.test(name)).sort()).to.deep.equal(contract);
  });

  for (const [key, value] of Object.entries(integerValue) as [IntegerKey, (config: RuntimeConfig) => number][]) {
    const setting: IntegerSetting = RuntimeContract[key];
    describe(setting.name, () => {
      it(`defaults to ${setting.default}`, () => {
        expect(value(loadConfig(URI))).to.equal(setting.default);
      });

      it(`accepts ${setting.min} and ${setting.max}`, () => {
        for (const bound of [setting.min, setting.max]) expect(value(loadConfig({ ...URI, [setting.name]: String(bound) }))).to.equal(bound);
      });

      it(`refuses values outside ${setting.min} – ${setting.max}, naming the variable and the range`, () => {
        const message = `expected an integer between ${setting.min} and ${setting.max}`;
        for (const bad of [String(setting.min - 1), (BigInt(setting.max) + 1n).toString(), '1.5', 'ten']) {
          expect(() => loadConfig({ ...URI, [setting.name]: bad }), bad).to.throw(ConfigError, `${setting.name}=${bad} is invalid: ${message}`);
        }
      });
    });
  }

  it('gives the other settings their contract defaults', () => {
    const config = loadConfig(URI);
    expect(config.session.providers).to.deep.equal(RuntimeContract.executionProviders.default);
    expect(config.logLevel).to.equal(RuntimeContract.logLevel.default);
    expect(config.model.version).to.equal(RuntimeContract.modelVersion.default);
    expect(config.revision).to.equal(RuntimeContract.revision.default);
    expect(config.batching.preferredBatchSizes).to.deep.equal([]);
    expect(config.model).to.not.have.property('sha256');
    expect(config.auth).to.not.have.any.keys('token', 'tokenFile');
  });

  it('refuses a fixed token and a token file together: which one rotates would be unclear', () => {
    expect(() => loadConfig({ ...URI, [RuntimeEnv.authToken]: 't', [RuntimeEnv.authTokenFile]: '/f' })).to.throw(ConfigError, `set ${RuntimeEnv.authToken} or ${RuntimeEnv.authTokenFile}, not both`);
    expect(loadConfig({ ...URI, [RuntimeEnv.authTokenFile]: '/f' }).auth).to.deep.equal({ tokenFile: '/f', reloadMs: RuntimeContract.authTokenReloadSeconds.default * 1000 });
  });

  it('accepts every allowed enum and list value and names the allowed ones when refusing', () => {
    for (const level of RuntimeContract.logLevel.values) expect(loadConfig({ ...URI, [RuntimeEnv.logLevel]: level.toUpperCase() }).logLevel).to.equal(level);
    expect(() => loadConfig({ ...URI, [RuntimeEnv.logLevel]: 'loud' })).to.throw(ConfigError, `expected one of ${RuntimeContract.logLevel.values.join(', ')}`);
    const all = RuntimeContract.executionProviders.values.join(',');
    expect(loadConfig({ ...URI, [RuntimeEnv.executionProviders]: `${all},cpu` }).session.providers).to.deep.equal([...RuntimeContract.executionProviders.values]);
  });

  it('bounds preferred batch sizes by the max batch size given, not the contract maximum', () => {
    const env = { ...URI, [RuntimeEnv.maxBatchSize]: '16', [RuntimeEnv.preferredBatchSizes]: '8,17' };
    expect(() => loadConfig(env)).to.throw(ConfigError, `${RuntimeEnv.preferredBatchSizes} entry "17" is invalid: expected integers between 1 and ${RuntimeEnv.maxBatchSize} (16)`);
  });

  it('treats an empty or blank variable as unset', () => {
    expect(loadConfig({ ...URI, [RuntimeEnv.port]: ' ', [RuntimeEnv.logLevel]: '' })).to.include({ port: RuntimeContract.port.default, logLevel: 'info' });
  });
});
