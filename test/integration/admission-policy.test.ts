import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator } from '../support/operator-process.ts';
import { toolPath } from '../support/test-tools.ts';
import { plane } from './context.ts';

const run = promisify(execFile);
const SHA = 'a'.repeat(64);

/**
 * The chart's ValidatingAdmissionPolicy on the real apiserver, with users of different RBAC
 * (impersonation): writing a ModelDeployment grants no Secret and no image its author lacks.
 */
describe('admission policy (the chart\'s ValidatingAdmissionPolicy, real apiserver, users by impersonation)', function () {
  this.timeout(300_000);
  const namespace = `admission-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  let policy = '';
  let counter = 0;

  /** Creates a ModelDeployment as `user`: undefined when admitted, else the apiserver's message. */
  const createAs = async (user: string, spec: Record<string, unknown>): Promise<string | undefined> => {
    const md = { apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: `md-${(counter += 1)}`, namespace }, spec };
    return kubectl(['create', `--as=${user}`, '-f', '-'], JSON.stringify(md)).then(() => undefined, (error: Error) => error.message);
  };
  const base = { model: { uri: 'https://models.example.com/fraud.onnx', sha256: SHA } };
  /** Every field that names a Secret, each naming `secret`. */
  const namingSecret = (secret: string): [string, Record<string, unknown>][] => [
    ['runtime.env secretKeyRef', { ...base, runtime: { env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } }] } }],
    ['security.authSecret', { ...base, security: { authSecret: { name: secret } } }],
    ['security.tls', { ...base, security: { tls: { secretName: secret } } }],
    ['model.mlflow.tokenSecret', { model: { uri: 'models:/fraud@champion', mlflow: { trackingUri: 'http://mlflow.mlops:5000', tokenSecret: { name: secret } } } }],
    ['model.signature.secret', { model: { ...base.model, signature: { secret: { name: secret, key: 'key.pem' } } } }],
    ['model.s3.credentialsSecret', { model: { uri: 's3://models/fraud.onnx', sha256: SHA, s3: { credentialsSecret: secret } } }],
  ];

  before(async function () {
    this.timeout(600_000);
    const helm = await toolPath('build-helm.sh');
    const serverVersion = (JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    policy = (await run(helm, ['template', 'modelship', CHART, '--kube-version', serverVersion, '--show-only', 'templates/admission-policy.yaml'])).stdout;
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], policy);
    await kubectl(['create', 'namespace', namespace]);
    const rbac = [
      { kind: 'Role', metadata: { name: 'model-author' }, rules: [{ apiGroups: ['modelship.io'], resources: ['modeldeployments'], verbs: ['get', 'list', 'create', 'update', 'patch'] }] },
      { kind: 'Role', metadata: { name: 'bob-extra' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['bob-secret'] }, { apiGroups: [''], resources: ['pods'], verbs: ['create'] }] },
      { kind: 'RoleBinding', metadata: { name: 'authors' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'model-author' }, subjects: ['alice', 'bob'].map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name })) },
      { kind: 'RoleBinding', metadata: { name: 'bob-extra' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'bob-extra' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob' }] },
    ].map((object) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', ...object, metadata: { ...object.metadata, namespace } }));
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
    // The apiserver takes a moment to load a new policy.
    await eventually(async () => {
      const [, spec] = namingSecret('db-password')[0] ?? [];
      expect(await createAs('alice', spec ?? {})).to.include('denied request');
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
  });

  after(async () => {
    await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    if (policy) await kubectl(['delete', '--ignore-not-found', '-f', '-'], policy).catch(() => undefined);
  });

  it('refuses a Secret its author may not get, in every field that names one, with a message naming the missing permission', async () => {
    for (const [field, spec] of namingSecret('db-password')) {
      const refusal = await createAs('alice', spec);
      expect(refusal, `${field}: ${refusal}`).to.include('names Secret db-password, which its pods would receive, but alice may not get it')
        .and.to.include(`(missing permission: get secrets db-password in namespace ${namespace})`);
    }
  });

  it('admits the same fields naming a Secret its author may get', async () => {
    for (const [field, spec] of namingSecret('bob-secret')) expect(await createAs('bob', spec), field).to.equal(undefined);
    expect(await createAs('bob', namingSecret('db-password')[0]?.[1] ?? {}), 'bob may get bob-secret only').to.include('bob may not get it');
  });

  it('refuses a runtime image outside the allowed list unless its author may create Pods; the chart\'s runtime images are allowed to all', async () => {
    const custom = { ...base, runtime: { image: 'registry.example.com/anything:1' } };
    expect(await createAs('alice', custom)).to.include('spec.runtime.image registry.example.com/anything:1 is not one of the allowed runtime images (ghcr.io/modelship/runtime:0.1.0, ghcr.io/modelship/runtime:0.1.0-cuda12)')
      .and.to.include(`alice may not run an image of their choice (missing permission: create pods in namespace ${namespace})`);
    expect(await createAs('alice', { ...base, runtime: { image: 'ghcr.io/modelship/runtime:0.1.0-cuda12' } })).to.equal(undefined);
    expect(await createAs('bob', custom)).to.equal(undefined);
  });

  it('an operator that requires the policy holds a ModelDeployment naming a Secret while the policy is not in force, and goes on once it is', async function () {
    this.timeout(240_000);
    interface Md { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }
    const binding = policy.split('\n---\n').find((document) => document.includes('kind: ValidatingAdmissionPolicyBinding')) ?? '';
    await kubectl(['delete', 'validatingadmissionpolicybinding', 'modelship-author-permissions']);
    const operator = await startOperator(plane().kubeconfigPath, 'operator-admission', { MODELSHIP_WATCH_NAMESPACE: namespace, MODELSHIP_ADMISSION_POLICY: 'modelship-author-permissions' });
    try {
      const apply = (name: string, spec: Record<string, unknown>) => kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace }, spec }));
      await apply('with-secret', { ...base, security: { authSecret: { name: 'bob-secret' } } });
      await apply('plain', base);
      const deployments = async () => (await kubectl(['get', 'deployments', '-n', namespace, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);
      const held = await eventually(async () => {
        const md = JSON.parse(await kubectl(['get', 'md', 'with-secret', '-n', namespace, '-o', 'json'])) as Md;
        const admitted = md.status?.conditions?.find((condition) => condition.type === 'Admitted');
        expect(admitted, JSON.stringify(md.status)).to.include({ status: 'False', reason: 'AdmissionPolicyMissing' });
        expect(await deployments()).to.include('plain');
        return admitted;
      }, { timeoutMs: 60_000 });
      expect(held?.message).to.equal('spec names Secret bob-secret, which the operator gives pods only while the admission policy that checks who wrote them is in force, '
        + 'and no ValidatingAdmissionPolicyBinding modelship-author-permissions binds the policy modelship-author-permissions; nothing is changed until it is');
      expect(await deployments(), 'nothing made for the held one').to.not.include('with-secret');

      await kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], binding);
      await eventually(async () => {
        expect(await deployments()).to.include('with-secret');
        const md = JSON.parse(await kubectl(['get', 'md', 'with-secret', '-n', namespace, '-o', 'json'])) as Md;
        expect(md.status?.conditions?.map((condition) => condition.type)).to.not.include('Admitted');
      }, { timeoutMs: 120_000, intervalMs: 1_000 });
    } finally {
      await operator.stop();
      await kubectl(['apply', '--server-side', '--field-manager=helm-test', '-f', '-'], binding);
    }
  });

  it('checks only what an update adds: another author may scale a ModelDeployment naming a Secret they cannot read, not add one', async () => {
    const spec = { ...base, replicas: 1, runtime: { image: 'registry.example.com/bobs:1', env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'bob-secret', key: 'token' } } }] } };
    expect(await createAs('bob', spec)).to.equal(undefined);
    const name = `md-${counter}`;
    const patchAs = (user: string, patch: unknown) => kubectl(['patch', 'md', name, '-n', namespace, `--as=${user}`, '--type=merge', '-p', JSON.stringify(patch)]).then(() => undefined, (error: Error) => error.message);
    expect(await patchAs('alice', { spec: { replicas: 3 } }), 'the Secret and image were there before').to.equal(undefined);
    expect(await patchAs('alice', { metadata: { annotations: { 'modelship.io/paused': 'true' } } })).to.equal(undefined);
    const added = { spec: { runtime: { env: [...spec.runtime.env, { name: 'DB', valueFrom: { secretKeyRef: { name: 'db-password', key: 'password' } } }] } } };
    expect(await patchAs('alice', added)).to.include('alice may not get it (missing permission: get secrets db-password');
    expect(await patchAs('alice', { spec: { runtime: { image: 'registry.example.com/alices:2' } } })).to.include('missing permission: create pods');
  });
});
