import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { freePort } from '../plane/ports.ts';
import { eventually } from '../support/eventually.ts';
import { startMlflow, type MlflowServer } from '../support/mlflow-server.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { fraudRequest, modelPath, postJson } from '../runtime/helpers.ts';
import { plane } from './context.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface ResolvedModel { reference: string; version: string; uri: string; sha256: string }
interface MdObject extends KubernetesObject {
  spec: { model: { uri: string; mlflow: { trackingUri: string; pollIntervalSeconds?: number } } };
  status?: {
    phase?: string;
    conditions?: Condition[];
    model?: ResolvedModel;
    stableRevision?: string;
    candidateRevision?: string;
    rollout?: { phase: string };
  };
}
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Deployment extends KubernetesObject { spec: { template: { spec: { containers: { env: EnvVar[] }[] } } } }
interface ControllerRevision extends KubernetesObject { revision: number; data: { resolvedModel?: ResolvedModel } }

const namespace = `registry-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
const getMd = (name: string) => json<MdObject>(['get', 'modeldeployments.modelship.io', name, '-n', namespace]);
const list = async <T>(kind: string) => (await json<{ items: T[] }>(['get', kind, '-n', namespace])).items;
const condition = (md: MdObject, type: string) => md.status?.conditions?.find((c) => c.type === type);
const applyMd = (object: unknown) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-n', namespace, '-f', '-'], JSON.stringify(object));
const until = (name: string, check: (md: MdObject) => void, timeoutMs = 90_000) =>
  eventually(async () => {
    const md = await getMd(name);
    check(md);
    return md;
  }, { timeoutMs, intervalMs: 500 });

/** examples/registry.yaml as a user applies it, pointed at this test's MLflow and polled every 5 s. */
async function registryExample(trackingUri: string): Promise<MdObject> {
  const md = load(await readFile(join(REPO_ROOT, 'examples/registry.yaml'), 'utf8')) as MdObject;
  md.spec.model.mlflow = { ...md.spec.model.mlflow, trackingUri, pollIntervalSeconds: 5 };
  return md;
}

/**
 * A loopback HTTP proxy in front of MLflow that remembers the Authorization header of every request:
 * which tokens the operator sent to the registry.
 */
async function recordingProxy(target: string): Promise<{ url: string; authorizations: string[]; close(): Promise<void> }> {
  const authorizations: string[] = [];
  const upstream = new URL(target);
  const server: Server = createServer((incoming, answer) => {
    authorizations.push(incoming.headers.authorization ?? '');
    const forwarded = request(new URL(incoming.url ?? '/', upstream), { method: incoming.method, headers: { ...incoming.headers, host: upstream.host } }, (response) => {
      answer.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(answer);
    });
    forwarded.on('error', () => answer.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('models:/ URIs resolved in a real MLflow model registry', function () {
  this.timeout(300_000);
  let mlflow: MlflowServer;
  let operator: OperatorProcess;
  const registered: Record<'fp32' | 'int8', { version: string; sha256: string }> = { fp32: { version: '', sha256: '' }, int8: { version: '', sha256: '' } };

  before(async function () {
    this.timeout(1_800_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    mlflow = await startMlflow();
    // Two different ONNX files as versions 1 and 2 of one registered model, the alias on version 1.
    registered.fp32 = await mlflow.register('fraud', modelPath('fraud-fp32.onnx'));
    registered.int8 = await mlflow.register('fraud', modelPath('fraud-int8-qdq.onnx'));
    expect([registered.fp32.version, registered.int8.version]).to.deep.equal(['1', '2']);
    expect(registered.fp32.sha256).to.not.equal(registered.int8.sha256);
    await mlflow.setAlias('fraud', 'champion', '1');
    operator = await startOperator(plane().kubeconfigPath, 'operator-registry', { MODELSHIP_WATCH_NAMESPACE: namespace });
  });

  after(async function () {
    this.timeout(180_000);
    await operator?.stop();
    await mlflow?.close();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('resolves models:/fraud@champion to version 1 and its digest, and a real runtime started with the env the operator wrote downloads it from MLflow and serves it', async () => {
    await applyMd(await registryExample(mlflow.url));
    const md = await until('fraud-registry', (current) => {
      expect(condition(current, 'ModelResolved'), JSON.stringify(current.status)).to.include({ status: 'True', reason: 'Resolved' });
      expect(current.status?.stableRevision).to.be.a('string');
    });
    const expected = registered.fp32.sha256;
    expect(md.status?.model).to.include({ reference: 'models:/fraud@champion', version: '1', sha256: expected });
    expect(md.status?.model?.uri).to.match(new RegExp(`^${mlflow.url}/api/2.0/mlflow-artifacts/artifacts/.+/model\\.onnx$`));
    expect(condition(md, 'ModelResolved')?.message).to.equal(`models:/fraud@champion is version 1 (sha256 ${expected.slice(0, 12)})`);

    const [deployment] = await list<Deployment>('deployments');
    const env = deployment?.spec.template.spec.containers[0]?.env ?? [];
    const value = (name: string) => env.find((entry) => entry.name === name)?.value;
    expect(value('MODELSHIP_MODEL_URI')).to.equal(md.status?.model?.uri);
    expect(value('MODELSHIP_MODEL_SHA256')).to.equal(expected);
    expect(value('MODELSHIP_MODEL_VERSION')).to.equal('1');
    // kubectl get md's Version column: the registry version, though the spec names none.
    const row = (await kubectl(['get', 'md', 'fraud-registry', '-n', namespace, '--no-headers'])).trim().split(/\s+/);
    expect(row.slice(0, 3)).to.deep.equal(['fraud-registry', 'fraud-registry', '1']);

    // KWOK pods run no containers: start the runtime here with the pod template's environment.
    const port = await freePort();
    const runtimeEnv = Object.fromEntries(env.flatMap((entry) => (entry.value === undefined ? [] : [[entry.name, entry.value]])));
    const runtime = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...runtimeEnv, MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_MODEL_CACHE_DIR: join(REPO_ROOT, '.cache', `registry-${port}`) },
      stdio: 'ignore',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(async () => expect((await fetch(`${base}/v2/health/ready`)).status).to.equal(200), { timeoutMs: 60_000 });
      const metadata = (await (await fetch(`${base}/v2/models/fraud-registry`)).json()) as { versions: string[] };
      expect(metadata.versions).to.deep.equal(['1']);
      const answer = await postJson<{ outputs: { name: string; data: number[] }[] }>(`${base}/v2/models/fraud-registry/infer`, fraudRequest(4, 1));
      expect(answer.status).to.equal(200);
      expect(answer.body.outputs.flatMap((output) => output.data)).to.have.length.greaterThan(0);
    } finally {
      runtime.kill('SIGTERM');
    }
  });

  it('moving the alias to version 2 starts a canary of a new revision, recorded with the registry version', async () => {
    const before = await getMd('fraud-registry');
    const stable = before.status?.stableRevision ?? '';
    await mlflow.setAlias('fraud', 'champion', '2');
    const moved = await until('fraud-registry', (md) => {
      expect(md.status?.model?.version, JSON.stringify(md.status)).to.equal('2');
      expect(md.status?.candidateRevision).to.be.a('string');
    });
    expect(moved.status?.model?.sha256).to.equal(registered.int8.sha256);
    expect(moved.status?.stableRevision).to.equal(stable);
    expect(moved.status?.rollout?.phase).to.be.oneOf(['Progressing', 'WaitingForPromotion']);
    const recorded = (await list<ControllerRevision>('controllerrevisions')).sort((a, b) => a.revision - b.revision);
    expect(recorded.map((revision) => revision.data.resolvedModel?.version)).to.deep.equal(['1', '2']);
    expect(recorded.map((revision) => revision.metadata?.labels?.['modelship.io/model-version'])).to.deep.equal(['1', '2']);
    const history = await new Promise<string>((resolve, reject) => {
      const cli = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'history', 'fraud-registry', '-n', namespace, '--kubeconfig', plane().kubeconfigPath], { cwd: REPO_ROOT });
      let out = '';
      cli.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      cli.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`history exited ${code}`))));
    });
    expect(history).to.match(new RegExp(`^2\\s+\\S+\\s+2\\s+${registered.int8.sha256.slice(0, 12)}\\s+candidate$`, 'm'));
  });

  it('with the registry down, keeps every Deployment as it was and says ModelResolved=False/RegistryUnavailable; back up, it resolves again', async () => {
    const deploymentsBefore = await list<Deployment>('deployments');
    await mlflow.stop();
    try {
      const down = await until('fraud-registry', (md) => {
        expect(condition(md, 'ModelResolved'), JSON.stringify(md.status?.conditions)).to.include({ status: 'False', reason: 'RegistryUnavailable' });
      });
      expect(condition(down, 'ModelResolved')?.message).to.include(`MLflow at ${mlflow.url} did not answer`).and.to.include('still serving version 2');
      expect(down.status?.model?.version).to.equal('2');
      const deploymentsAfter = await list<Deployment>('deployments');
      const templates = (items: Deployment[]) => items.map((d) => [d.metadata?.name, d.spec.template]).sort();
      expect(templates(deploymentsAfter)).to.deep.equal(templates(deploymentsBefore));
      expect(operator.child.exitCode).to.equal(null);
    } finally {
      await mlflow.start();
    }
    await until('fraud-registry', (md) => expect(condition(md, 'ModelResolved')).to.include({ status: 'True', reason: 'Resolved' }));
  });

  it('an unknown alias, model or version is a clear status message, creates nothing and retries without errors', async () => {
    const errorsBefore = await operator.metric('modelship_reconcile_errors_total');
    const spec = (uri: string) => ({
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'unknown', namespace },
      spec: { model: { uri, mlflow: { trackingUri: mlflow.url, pollIntervalSeconds: 5 } } },
    });
    for (const [uri, reason, message] of [
      ['models:/fraud@nope', 'AliasNotFound', 'registered model fraud has no alias nope'],
      ['models:/fraud/9', 'ModelVersionNotFound', 'no version 9 of registered model fraud'],
      ['models:/no-such-model@champion', 'ModelNotFound', 'no registered model no-such-model'],
    ] as const) {
      await applyMd(spec(uri));
      const md = await until('unknown', (current) => expect(condition(current, 'ModelResolved'), JSON.stringify(current.status)).to.include({ status: 'False', reason }));
      expect(condition(md, 'ModelResolved')?.message).to.include(message);
      expect(md.status?.phase).to.equal('Pending');
    }
    const names = (await list<Deployment>('deployments')).map((d) => d.metadata?.name ?? '');
    expect(names.filter((name) => name.startsWith('unknown'))).to.deep.equal([]);
    expect(await operator.metric('modelship_reconcile_errors_total')).to.equal(errorsBefore);
    // Registering the alias later is picked up at the next poll.
    await applyMd(spec('models:/fraud@nope'));
    await until('unknown', (md) => expect(condition(md, 'ModelResolved')).to.include({ reason: 'AliasNotFound' }));
    await mlflow.setAlias('fraud', 'nope', '1');
    const found = await until('unknown', (md) => expect(md.status?.model?.version, JSON.stringify(md.status)).to.equal('1'));
    expect(condition(found, 'ModelResolved')).to.include({ status: 'True' });
  });

  it('reads the registry token from the Secret spec.model.mlflow.tokenSecret names, and gives the runtime the same Secret for its download', async () => {
    const md = {
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'with-token', namespace },
      spec: { model: { uri: 'models:/fraud/2', mlflow: { trackingUri: mlflow.url, tokenSecret: { name: 'mlflow-token' }, pollIntervalSeconds: 5 } } },
    };
    await applyMd(md);
    const missing = await until('with-token', (current) => expect(condition(current, 'ModelResolved')).to.include({ status: 'False', reason: 'TokenUnavailable' }));
    expect(condition(missing, 'ModelResolved')?.message).to.include('Secret mlflow-token (model.mlflow.tokenSecret) does not exist');
    await kubectl(['create', 'secret', 'generic', 'mlflow-token', '-n', namespace, '--from-literal=token=s3cr3t']);
    const unlabelled = await until('with-token', (current) => expect(condition(current, 'ModelResolved')?.message).to.include('is not labelled modelship.io/registry-token=true'));
    expect(unlabelled.status?.model).to.equal(undefined);
    await kubectl(['label', 'secret', 'mlflow-token', '-n', namespace, 'modelship.io/registry-token=true']);
    await until('with-token', (current) => expect(current.status?.model?.version, JSON.stringify(current.status)).to.equal('2'));
    const [deployment] = (await list<Deployment>('deployments')).filter((d) => d.metadata?.name?.startsWith('with-token'));
    const tokenEnv = deployment?.spec.template.spec.containers[0]?.env.find((entry) => entry.name === 'MODELSHIP_MODEL_DOWNLOAD_TOKEN');
    expect(tokenEnv?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'mlflow-token', key: 'token' });
  });

  it('a token Secret it may not send stops resolution: the Deployment keeps its spec, status says why, and the token never leaves the operator', async () => {
    const proxy = await recordingProxy(mlflow.url);
    try {
      await kubectl(['create', 'secret', 'generic', 'registry-token-ok', '-n', namespace, '--from-literal=token=token-meant-for-mlflow']);
      await kubectl(['label', 'secret', 'registry-token-ok', '-n', namespace, 'modelship.io/registry-token=true']);
      await kubectl(['create', 'secret', 'generic', 'database-password', '-n', namespace, '--from-literal=token=not-for-any-registry']);
      const md = (tokenSecret: string) => ({
        apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'token-hold', namespace },
        spec: { model: { uri: 'models:/fraud/1', mlflow: { trackingUri: proxy.url, tokenSecret: { name: tokenSecret }, pollIntervalSeconds: 5 } } },
      });
      await applyMd(md('registry-token-ok'));
      await until('token-hold', (current) => expect(current.status?.model?.version, JSON.stringify(current.status)).to.equal('1'));
      expect(proxy.authorizations, 'the labelled token is sent as a bearer token').to.include('Bearer token-meant-for-mlflow');
      const ownDeployments = async () => (await list<Deployment>('deployments')).filter((d) => d.metadata?.name?.startsWith('token-hold'));
      const before = await ownDeployments();
      const revisionsBefore = (await list<ControllerRevision>('controllerrevisions')).filter((r) => r.metadata?.name?.startsWith('token-hold')).length;

      await applyMd(md('database-password'));
      const held = await until('token-hold', (current) => expect(condition(current, 'ModelResolved'), JSON.stringify(current.status)).to.include({ status: 'False', reason: 'TokenUnavailable' }));
      expect(condition(held, 'ModelResolved')?.message).to.include('Secret database-password (model.mlflow.tokenSecret) is not labelled modelship.io/registry-token=true')
        .and.to.include('nothing is changed');
      // Two more polls: still held.
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      const after = await ownDeployments();
      const templates = (items: Deployment[]) => items.map((d) => [d.metadata?.name, d.spec.template]).sort();
      expect(templates(after), 'the Deployment keeps the spec it had').to.deep.equal(templates(before));
      expect(JSON.stringify(after)).to.not.include('database-password');
      expect((await list<ControllerRevision>('controllerrevisions')).filter((r) => r.metadata?.name?.startsWith('token-hold')).length, 'no revision made').to.equal(revisionsBefore);
      expect(proxy.authorizations.filter((header) => header.includes('not-for-any-registry')), 'the refused Secret never reached the registry').to.deep.equal([]);
    } finally {
      await proxy.close();
    }
  });
});
