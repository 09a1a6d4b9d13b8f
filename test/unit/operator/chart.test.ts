import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { API_GROUP, PLURAL } from '../../../operator/api/crd.ts';
import { childKinds } from '../../../operator/desired/index.ts';
import { GatewayApiReadKinds } from '../../../operator/desired/routing/gateway-api.ts';
import { CHART, templateRules, type PolicyRule } from '../../support/chart.ts';

function grants(rules: PolicyRule[], group: string, resource: string): string[] {
  return rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs).sort();
}

describe('Helm chart RBAC', () => {
  const manage = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

  it('lets the operator manage every kind of child it creates, and nothing else', async () => {
    const rules = await templateRules('clusterrole.yaml');
    for (const kind of childKinds) expect(grants(rules, kind.group, kind.plural), `${kind.kind}`).to.deep.equal(manage);
    const childResources = new Set(childKinds.map((kind) => `${kind.group}/${kind.plural}`));
    const others = rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`))).filter((key) => !childResources.has(key));
    expect(others.sort()).to.deep.equal([
      '/pods',
      '/secrets',
      'admissionregistration.k8s.io/validatingadmissionpolicies',
      'admissionregistration.k8s.io/validatingadmissionpolicybindings',
      'events.k8s.io/events',
      'gateway.networking.k8s.io/gatewayclasses',
      'gateway.networking.k8s.io/gateways',
      `${API_GROUP}/${PLURAL}`,
      `${API_GROUP}/${PLURAL}/finalizers`,
      `${API_GROUP}/${PLURAL}/status`,
    ]);
  });

  it('reads ModelDeployments, patches them only to clear acted-on rollout commands, writes their status, reads runtime pods, and records events', async () => {
    const rules = await templateRules('clusterrole.yaml');
    expect(grants(rules, API_GROUP, PLURAL)).to.deep.equal(['get', 'list', 'patch', 'watch']);
    expect(grants(rules, API_GROUP, `${PLURAL}/status`)).to.deep.equal(['patch', 'update']);
    expect(grants(rules, 'events.k8s.io', 'events')).to.deep.equal(['create', 'patch']);
    expect(grants(rules, '', 'pods'), 'runtime pods: read only').to.deep.equal(['get', 'list', 'watch']);
    for (const resource of [GatewayApiReadKinds.gateway.plural, GatewayApiReadKinds.gatewayClass.plural]) {
      expect(grants(rules, GatewayApiReadKinds.gateway.group, resource), `${resource}: read one by one`).to.deep.equal(['get']);
    }
    expect(rules.flatMap((r) => r.verbs)).to.not.include('*');
  });

  it('reads a Secret only by name (the registry token a ModelDeployment names), never lists or watches them', async () => {
    const rules = await templateRules('clusterrole.yaml');
    expect(grants(rules, '', 'secrets')).to.deep.equal(['get']);
  });

  it('reads the admission policy that checks ModelDeployment authors, and its binding, and may not change them', async () => {
    const rules = await templateRules('clusterrole.yaml');
    for (const resource of ['validatingadmissionpolicies', 'validatingadmissionpolicybindings']) expect(grants(rules, 'admissionregistration.k8s.io', resource)).to.deep.equal(['get']);
  });

  it('confines lease access to a namespaced Role for leader election', async () => {
    const rules = await templateRules('leader-election.yaml');
    expect(rules).to.deep.equal([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
  });

  it('runs two operator replicas with leader election by default', async () => {
    const values = load(await readFile(join(CHART, 'values.yaml'), 'utf8')) as { replicaCount: number; leaderElection: { enabled: boolean } };
    expect(values.replicaCount).to.equal(2);
    expect(values.leaderElection.enabled).to.equal(true);
  });
});
