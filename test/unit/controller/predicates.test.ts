import { expect } from 'chai';
import type { ModelDeployment } from '../../../operator/api/types.ts';
import { needsReconcile } from '../../../operator/controller/predicates.ts';

const md = (metadata: ModelDeployment['metadata'] = {}, status: ModelDeployment['status'] = {}): ModelDeployment => ({
  apiVersion: 'modelship.io/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name: 'fraud', namespace: 'payments', generation: 3, resourceVersion: '100', annotations: { team: 'risk' }, labels: { app: 'fraud' }, ...metadata },
  spec: { model: { uri: 'https://models.example.com/fraud.onnx', sha256: 'a'.repeat(64) } } as ModelDeployment['spec'],
  status,
});

describe('which ModelDeployment watch events are reconciled', () => {
  const before = md({}, { phase: 'Progressing', observedGeneration: 3 });

  it('drops an update that changes only status, as the operator\'s own status writes do', () => {
    const after = md({ resourceVersion: '101' }, { phase: 'Ready', observedGeneration: 3 });
    expect(needsReconcile('update', after, before)).to.equal(false);
  });

  it('reconciles a spec change: the apiserver bumps the generation', () => {
    expect(needsReconcile('update', md({ generation: 4, resourceVersion: '101' }, before.status), before)).to.equal(true);
  });

  it('reconciles an annotation added, changed or removed: rollout commands (modelship.io/promote) arrive that way', () => {
    expect(needsReconcile('update', md({ annotations: { team: 'risk', 'modelship.io/promote': 'true' } }, before.status), before)).to.equal(true);
    expect(needsReconcile('update', md({ annotations: { team: 'fraud' } }, before.status), before)).to.equal(true);
    expect(needsReconcile('update', md({ annotations: undefined }, before.status), before)).to.equal(true);
  });

  it('reconciles a label change, a deletion starting and a finalizer change', () => {
    expect(needsReconcile('update', md({ labels: { app: 'fraud', tier: 'gold' } }), before)).to.equal(true);
    expect(needsReconcile('update', md({ deletionTimestamp: new Date('2025-01-01T00:00:00Z') }), before)).to.equal(true);
    expect(needsReconcile('update', md({ finalizers: ['example.com/keep'] }), before)).to.equal(true);
  });

  it('treats absent and empty annotations, labels and finalizers alike', () => {
    const bare = md({ annotations: undefined, labels: undefined });
    expect(needsReconcile('update', md({ annotations: {}, labels: {}, finalizers: [] }, { phase: 'Ready' }), bare)).to.equal(false);
  });

  it('always reconciles an add, a delete, and an update whose generation is unknown', () => {
    expect(needsReconcile('add', before)).to.equal(true);
    expect(needsReconcile('delete', before)).to.equal(true);
    expect(needsReconcile('update', md({ generation: undefined }, { phase: 'Ready' }), md({ generation: undefined }))).to.equal(true);
  });
});
