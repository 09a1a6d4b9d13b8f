/**
 * The local demo, the whole story on one machine: a real control plane and one real node
 * (containerd + runc + kubelet + kube-proxy + CoreDNS), the project's runtime image loaded into it,
 * the CRD, the operator, a real MLflow model registry with the fraud model registered in it, a
 * ModelDeployment that serves `models:/fraud@champion` from pods the operator created, predictions
 * through its Service, then a new version promoted in the registry, rolled out as a canary whose
 * pods answer beside the stable ones, inspected with `kubectl get md` and `kubectl modelship status`,
 * and promoted with `kubectl modelship promote`. Runs as root (it starts containers).
 *
 *   npm run demo             run through and stop everything
 *   npm run demo -- --keep   leave it all running until Ctrl-C (or SIGTERM, SIGHUP); an error stops everything anyway
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dump, load } from 'js-yaml';
import { startRealNode } from '../plane/node.ts';
import { startPlane } from '../plane/plane.ts';
import { eventually } from '../support/eventually.ts';
import { loadProjectImages } from '../support/node-images.ts';
import { startMlflow } from '../support/mlflow-server.ts';
import { startOperator } from '../support/operator-process.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
// Bold headings on a terminal only: piped into a file or CI log, escape codes are noise.
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (line: string) => console.log(`\n${bold(`== ${line}`)}`);
const indent = (text: string) => text.trimEnd().split('\n').map((line) => `   ${line}`).join('\n');
const run = promisify(execFile);
const example = 'examples/registry.yaml';
const namespace = 'demo';
const name = 'fraud-registry';

interface ModelDeploymentView {
  status?: { phase?: string; stableRevision?: string; candidateRevision?: string; rollout?: { phase?: string }; conditions?: { type: string; status: string }[] };
}

say('starting the control plane (etcd, kube-apiserver, controller-manager, scheduler)');
const plane = await startPlane({ nodes: 0, log: (line) => console.log(`   ${line}`) });
const cleanups: (() => Promise<unknown>)[] = [() => plane.stop()];
let cleaning: Promise<void> | undefined;
/** Stops everything once, last started first, whoever asks (an error, a signal, the end of the run). */
const cleanup = (): Promise<void> => (cleaning ??= (async () => {
  for (const step of cleanups.reverse()) await step().catch(() => undefined);
})());
// Ctrl-C, a kill and a closed terminal all stop what the demo started.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => void cleanup().then(() => process.exit(128 + constants.signals[signal])));
}

say('starting a real node (containerd + runc, kubelet, kube-proxy, CoreDNS; built from Go modules on first use)');
const node = await startRealNode(plane, { log: (line) => console.log(`   ${line}`) }).catch(async (error: unknown) => {
  await plane.stop();
  throw error;
});
cleanups.push(() => node.stop());
say('loading the runtime image (Dockerfile.runtime, replayed without a Docker engine) into the node');
const scratch = await mkdtemp(join(tmpdir(), 'modelship-demo-images-'));
cleanups.push(() => rm(scratch, { recursive: true, force: true }));
const runtimeImage = await loadProjectImages(node, scratch, (line) => console.log(`   ${line}`));
console.log(`   ${runtimeImage.name}`);

const kubectl = (args: string[], input?: string) => plane.kubectl(args, input);
const plugin = async (...args: string[]) =>
  (await run(process.execPath, [`${repoRoot}bin/kubectl-modelship.js`, ...args, '-n', namespace, '--kubeconfig', plane.kubeconfigPath], { cwd: repoRoot })).stdout;
const getMd = async () => JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as ModelDeploymentView;
/** Ready as `kubectl get md` shows it: the phase, which waits for the rollout to finish too, not only the Ready condition. */
const ready = (md: ModelDeploymentView) => md.status?.phase === 'Ready' && md.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/** Where a runtime answers: REST as a URL (curl), gRPC as host:port without a scheme (tritonclient). */
interface RuntimeAddresses {
  rest: string;
  grpc: string;
}

/** The addresses in words a user can paste: a curl command line and tritonclient's url argument. */
function describeAddresses(label: string, addresses: RuntimeAddresses, modelName: string): string {
  return [
    `${label} REST:  curl ${addresses.rest}/v2/models/${modelName}`,
    `${label} gRPC:  ${addresses.grpc}  (host:port, no scheme: tritonclient.grpc.InferenceServerClient(url="${addresses.grpc}"))`,
  ].map((line) => `   ${line}`).join('\n');
}

/** The Service of the ModelDeployment, as this machine reaches it (kube-proxy routes its ClusterIP here too). */
async function serviceAddresses(): Promise<RuntimeAddresses> {
  const clusterIp = (await kubectl(['get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  return { rest: `http://${clusterIp}:8080`, grpc: `${clusterIp}:8081` };
}

/** Which versions answer through the Service: one request per new connection, as kube-proxy balances connections. */
async function versionsAnswering(base: string, modelName: string, requests: number): Promise<string> {
  const counts = new Map<string, number>();
  const features = Array.from({ length: 30 }, (_, i) => (i % 7) / 7);
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`${base}/v2/models/${modelName}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 30], datatype: 'FP32', data: features }] }),
    });
    const version = response.ok ? `version ${((await response.json()) as { model_version: string }).model_version}` : `HTTP ${response.status}`;
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  return [...counts].map(([version, count]) => `${version}: ${count}`).join(', ');
}

async function predict(base: string, modelName: string): Promise<void> {
  const metadata = await (await fetch(`${base}/v2/models/${modelName}`)).json() as { inputs: { name: string; datatype: string; shape: number[] }[] };
  const input = metadata.inputs[0];
  if (!input) throw new Error('the model declares no inputs');
  const features = input.shape.at(-1) ?? 1;
  const rows = [Array.from({ length: features }, (_, i) => ((i * 37) % 11) / 10 - 0.5), Array.from({ length: features }, (_, i) => (i % 5) * 1.5)];
  const request = { id: 'demo', inputs: [{ name: input.name, shape: [2, features], datatype: input.datatype, data: rows.flat() }] };
  console.log(`   POST ${base}/v2/models/${modelName}/infer`);
  const response = await fetch(`${base}/v2/models/${modelName}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  console.log(indent(`${response.status} ${JSON.stringify(await response.json())}`));
}

try {
  say('installing the ModelDeployment CRD');
  console.log(indent(await kubectl(['apply', '--server-side', '-f', 'crds/'])));
  await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io']);

  say('starting the operator');
  const operator = await startOperator(plane.kubeconfigPath, 'demo-operator', { MODELSHIP_LOG_LEVEL: 'info', MODELSHIP_RUNTIME_IMAGE: runtimeImage.name });
  cleanups.push(() => operator.stop());
  console.log(`   operator metrics at ${operator.metricsUrl}`);

  say(`starting an MLflow model registry on the node's bridge address ${node.hostAddress}, where pods and the operator reach it (PyPI mlflow, sqlite, local artifact store; installed into .venv-mlflow on first use)`);
  const installing = new AbortController();
  cleanups.push(async () => installing.abort());
  const mlflow = await startMlflow({ log: (line) => console.log(`   ${line}`), signal: installing.signal, host: node.hostAddress });
  cleanups.push(() => mlflow.close());
  const v1 = await mlflow.register('fraud', `${repoRoot}examples/models/fraud-fp32.onnx`);
  await mlflow.setAlias('fraud', 'champion', v1.version);
  console.log(`   ${mlflow.url}: model "fraud" version ${v1.version} (sha256 ${v1.sha256.slice(0, 12)}...), alias champion -> ${v1.version}`);

  const manifest = load(await readFile(`${repoRoot}${example}`, 'utf8')) as { spec: { model: { mlflow: { trackingUri: string; pollIntervalSeconds: number } }; rollout: { canary: { steps: unknown[] } } } };
  manifest.spec.model.mlflow.trackingUri = mlflow.url;
  manifest.spec.model.mlflow.pollIntervalSeconds = 5;
  // No timed pause: the demo promotes by hand with the kubectl plugin.
  manifest.spec.rollout.canary.steps = [{ weight: 50 }, { weight: 100 }];
  say(`applying ${example} in namespace ${namespace} (tracking URI ${mlflow.url}, registry polled every 5 s, canary 50% then 100%)`);
  await kubectl(['create', 'namespace', namespace]).catch(() => undefined);
  console.log(indent(await kubectl(['apply', '-n', namespace, '-f', '-'], dump(manifest))));
  await eventually(async () => {
    if (!ready(await getMd())) throw new Error('not ready yet');
  }, { timeoutMs: 300_000 });
  say(`kubectl get md,pods -n ${namespace} -o wide`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  console.log(indent(await kubectl(['get', 'pods', '-n', namespace, '-o', 'wide'])));
  say(`kubectl modelship status ${name}`);
  console.log(indent(await plugin('status', name)));

  say(`serving: the pods the operator created, through Service ${name}`);
  const service = await serviceAddresses();
  console.log(describeAddresses(`service ${name}`, service, name));
  await predict(service.rest, name);

  const v2 = await mlflow.register('fraud', `${repoRoot}examples/models/fraud-int8-qdq.onnx`);
  say(`promoting in the registry: version ${v2.version} (the INT8 model, sha256 ${v2.sha256.slice(0, 12)}...), alias champion -> ${v2.version}`);
  await mlflow.setAlias('fraud', 'champion', v2.version);
  const started = await eventually(async () => {
    const md = await getMd();
    if (!md.status?.candidateRevision || md.status.rollout?.phase === undefined) throw new Error('no canary yet');
    return md;
  }, { timeoutMs: 120_000 });
  const candidate = started.status?.candidateRevision ?? '';
  await eventually(async () => {
    const phase = (await getMd()).status?.rollout?.phase;
    if (phase !== 'WaitingForPromotion') throw new Error(`phase ${phase}`);
  }, { timeoutMs: 300_000 });
  say(`the operator saw the alias move and started a canary: kubectl get md,pods -n ${namespace}`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  console.log(indent(await kubectl(['get', 'pods', '-n', namespace, '-o', 'wide'])));
  say(`kubectl modelship status ${name}`);
  console.log(indent(await plugin('status', name)));

  say(`the candidate's pods answer beside the stable ones: 40 requests through Service ${name}`);
  console.log(`   ${await versionsAnswering(service.rest, name, 40)}`);

  say(`kubectl modelship promote ${name} --full`);
  console.log(indent(await plugin('promote', name, '--full')));
  await eventually(async () => {
    const md = await getMd();
    if (md.status?.stableRevision !== candidate || !ready(md)) throw new Error('not promoted yet');
  }, { timeoutMs: 300_000 });
  say(`kubectl get md,pods -n ${namespace}`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  console.log(indent(await kubectl(['get', 'pods', '-n', namespace, '-o', 'wide'])));
  say(`kubectl modelship history ${name}`);
  console.log(indent(await plugin('history', name)));
  say(`after promotion: 20 requests through Service ${name}`);
  await eventually(async () => {
    const versions = await versionsAnswering(service.rest, name, 20);
    if (versions.includes(',')) throw new Error(versions);
    console.log(`   ${versions}`);
  }, { timeoutMs: 60_000, intervalMs: 1_000 });

  if (keep) {
    say('running; Ctrl-C to stop');
    console.log(`   export KUBECONFIG=${plane.kubeconfigPath}`);
    console.log(`   MLflow: ${mlflow.url}`);
    console.log(describeAddresses(`service ${name}`, service, name));
    await new Promise(() => {});
  }
  say('demo finished; stopping everything');
} catch (error) {
  // A signal's handler is already stopping everything (which aborts the step that threw) and exits.
  if (cleaning) await new Promise(() => {});
  // --keep keeps a demo that worked; one that failed leaves nothing running behind it.
  say(`demo failed: ${(error as Error).message}; stopping everything`);
  await cleanup();
  throw error;
} finally {
  if (!keep) await cleanup();
}
