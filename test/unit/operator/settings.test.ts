import { expect } from 'chai';
import { hostname } from 'node:os';
import { ConfigError, loadOperatorConfig, type OperatorConfig } from '../../../operator/config.ts';
import { OperatorSettings } from '../../../operator/settings.ts';
import type { IntegerSetting } from '../../../runtime/env-settings.ts';

type Key = keyof typeof OperatorSettings;
type IntegerKey = { [K in Key]: (typeof OperatorSettings)[K] extends IntegerSetting ? K : never }[Key];

/** Where each integer setting lands in the parsed config; typed so a new integer setting needs a line here. */
const integerValue: Record<IntegerKey, (config: OperatorConfig) => number> = {
  workers: (c) => c.workers,
  registryPollSeconds: (c) => c.registryPollMs / 1000,
  resyncSeconds: (c) => c.resyncIntervalMs / 1000,
  discoveryIntervalSeconds: (c) => c.discoveryIntervalMs / 1000,
  metricsPort: (c) => c.metricsPort,
  leaseDurationSeconds: (c) => c.leaderElection.leaseDurationMs / 1000,
  renewDeadlineSeconds: (c) => c.leaderElection.renewDeadlineMs / 1000,
  retryPeriodSeconds: (c) => c.leaderElection.retryPeriodMs / 1000,
};

describe('unit: operator config parser derived from its settings contract (operator/settings.ts)', () => {
  it('reads every setting of the contract and no other MODELSHIP_* variable', () => {
    const read = new Set<string>();
    loadOperatorConfig(new Proxy({}, { get: (_target, name) => void (typeof name === 'string' && read.add(name)) }));
    expect([...read].filter((name) => name.startsWith('MODELSHIP_') || name.startsWith('POD_')).sort())
      .to.deep.equal(Object.values(OperatorSettings).map((setting) => setting.name).sort());
  });

  it('applies the contract defaults to an empty environment', () => {
    const config = loadOperatorConfig({});
    for (const [key, value] of Object.entries(integerValue) as [IntegerKey, (c: OperatorConfig) => number][]) {
      expect(value(config), key).to.equal(OperatorSettings[key].default);
    }
    expect(config.options).to.deep.equal({
      defaultRuntimeImage: OperatorSettings.runtimeImage.default,
      clusterDomain: OperatorSettings.clusterDomain.default,
      s3FetcherImage: OperatorSettings.s3FetcherImage.default,
      prometheusNamespace: OperatorSettings.prometheusNamespace.default,
    });
    expect(config).to.include({ logLevel: OperatorSettings.logLevel.default, metricsAddress: OperatorSettings.metricsAddress.default, watchNamespace: undefined });
    expect(config.leaderElection).to.include({
      enabled: OperatorSettings.leaderElection.default,
      namespace: OperatorSettings.podNamespace.default,
      name: OperatorSettings.leaderElectionLease.default,
      identity: `${hostname()}-${process.pid}`,
    });
  });

  it('reads what the chart sets: images, cluster domain, namespaces, identity', () => {
    const config = loadOperatorConfig({
      POD_NAME: 'modelship-operator-abc',
      POD_NAMESPACE: 'ops',
      MODELSHIP_CLUSTER_DOMAIN: 'corp.internal',
      MODELSHIP_S3_FETCHER_IMAGE: 'registry.corp/aws-cli:2',
      MODELSHIP_WATCH_NAMESPACE: 'payments',
      MODELSHIP_LEADER_ELECTION: 'false',
    });
    expect(config.options).to.include({ clusterDomain: 'corp.internal', s3FetcherImage: 'registry.corp/aws-cli:2' });
    expect(config.watchNamespace).to.equal('payments');
    expect(config.leaderElection).to.include({ enabled: false, namespace: 'ops', identity: 'modelship-operator-abc' });
    expect(loadOperatorConfig({ POD_NAMESPACE: 'ops', MODELSHIP_LEADER_ELECTION_NAMESPACE: 'leases' }).leaderElection.namespace).to.equal('leases');
  });

  for (const key of Object.keys(integerValue) as IntegerKey[]) {
    const setting: IntegerSetting = OperatorSettings[key];
    it(`refuses ${setting.name} outside ${setting.min} – ${setting.max}`, () => {
      for (const bad of [String(setting.min - 1), String(setting.max + 1), 'x']) {
        expect(() => loadOperatorConfig({ [setting.name]: bad }), bad)
          .to.throw(ConfigError, `${setting.name}=${bad} is invalid: expected an integer between ${setting.min} and ${setting.max}`);
      }
    });
  }

  it('refuses a leader election switch or log level it does not know', () => {
    expect(() => loadOperatorConfig({ MODELSHIP_LEADER_ELECTION: 'yes' })).to.throw(ConfigError, 'MODELSHIP_LEADER_ELECTION=yes is invalid: expected true or false');
    expect(() => loadOperatorConfig({ MODELSHIP_LOG_LEVEL: 'chatty' })).to.throw(ConfigError, 'MODELSHIP_LOG_LEVEL=chatty is invalid');
  });
});
