/**
 * The local demo, the whole story on one machine: a real control plane (KWOK plays the nodes), the
 * CRD, the operator, a real MLflow model registry with the fraud model registered in it, a
 * ModelDeployment that serves `models:/fraud@champion`, a prediction, then a new version promoted in
 * the registry, rolled out as a canary, inspected with `kubectl get md` and `kubectl modelship status`,
 * and promoted with `kubectl modelship promote`. KWOK pods run no containers, so the demo plays
 * kubelet for one pod per revision: it starts the runtime locally with exactly the environment the
 * operator put in that revision's pod template (the model URL on MLflow's artifact proxy).
 *
 *   npm run demo             run through and stop everything
 *   npm run demo -- --keep   leave it all running until Ctrl-C (or SIGTERM, SIGHUP); an error stops everything anyway
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { dump, load } from 'js-yaml';
import { startPlane } from '../plane/plane.ts';
import { freePort } from '../plane/ports.ts';
import { eventually } from '../support/eventually.ts';
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
  status?: { stableRevision?: string; candidateRevision?: string; rollout?: { phase?: string }; conditions?: { type: string; status: string }[] };
}

say('starting the control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK)');
const plane = await startPlane({ log: (line) => console.log(`   ${line}`) });
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

const kubectl = (args: string[], input?: string) => plane.kubectl(args, input);
const plugin = async (...args: string[]) =>
  (await run(process.execPath, [`${repoRoot}bin/kubectl-modelship.js`, ...args, '-n', namespace, '--kubeconfig', plane.kubeconfigPath], { cwd: repoRoot })).stdout;
const getMd = async () => JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as ModelDeploymentView;
const ready = (md: ModelDeploymentView) => md.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/** Where a runtime answers: REST as a URL (curl), gRPC as host:port without a scheme (tritonclient). */
interface RuntimeAddresses {
  rest: string;
  grpc: string;
}

/** Plays kubelet for one pod of a revision: the runtime with its pod template's environment, on free ports. */
async function startRevision(deploymentName: string): Promise<RuntimeAddresses> {
  const deployment = JSON.parse(await kubectl(['get', 'deployment', deploymentName, '-n', namespace, '-o', 'json'])) as V1Deployment;
  const env: Record<string, string> = {};
  for (const variable of deployment.spec?.template.spec?.containers[0]?.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  const port = await freePort();
  const grpcPort = await freePort();
  Object.assign(env, {
    MODELSHIP_MODEL_CACHE_DIR: `${plane.dataDir}/models-${deploymentName}`,
    // A pod's termination-message file; on this machine, a file of the demo's own.
    MODELSHIP_TERMINATION_MESSAGE_PATH: `${plane.dataDir}/termination-log-${deploymentName}`,
    MODELSHIP_PORT: String(port),
    MODELSHIP_GRPC_PORT: String(grpcPort),
  });
  console.log(`   ${deploymentName}: model ${env.MODELSHIP_MODEL_URI} (sha256 ${env.MODELSHIP_MODEL_SHA256?.slice(0, 12)}...), revision ${env.MODELSHIP_REVISION}, ports ${port} (REST) and ${grpcPort} (gRPC)`);
  const runtime = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  runtime.stdout.on('data', (chunk: Buffer) => process.stdout.write(indent(`[${deploymentName}] ${chunk.toString()}`) + '\n'));
  cleanups.push(async () => { runtime.kill('SIGTERM'); await sleep(500); });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    const res = await fetch(`${base}/v2/health/ready`);
    if (!res.ok) throw new Error(`ready: ${res.status}`);
  }, { timeoutMs: 120_000 });
  return { rest: base, grpc: `127.0.0.1:${grpcPort}` };
}

/** The addresses in words a user can paste: a curl command line and tritonclient's url argument. */
function describeAddresses(label: string, addresses: RuntimeAddresses, modelName: string): string {
  return [
    `${label} REST:  curl ${addresses.rest}/v2/models/${modelName}`,
    `${label} gRPC:  ${addresses.grpc}  (host:port, no scheme: tritonclient.grpc.InferenceServerClient(url="${addresses.grpc}"))`,
  ].map((line) => `   ${line}`).join('\n');
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
  const operator = await startOperator(plane.kubeconfigPath, 'demo-operator', { MODELSHIP_LOG_LEVEL: 'info' });
  cleanups.push(() => operator.stop());
  console.log(`   operator metrics at ${operator.metricsUrl}`);

  say('starting an MLflow model registry (PyPI mlflow, sqlite, local artifact store; installed into .venv-mlflow on first use)');
  const installing = new AbortController();
  cleanups.push(async () => installing.abort());
  const mlflow = await startMlflow({ log: (line) => console.log(`   ${line}`), signal: installing.signal });
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
  }, { timeoutMs: 120_000 });
  say(`kubectl get md -n ${namespace}`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  say(`kubectl modelship status ${name}`);
  console.log(indent(await plugin('status', name)));

  say('serving: the runtime of the stable revision, with the environment the operator wrote');
  const stable = (await getMd()).status?.stableRevision ?? '';
  const stableRuntime = await startRevision(`${name}-${stable}`);
  console.log(describeAddresses('stable', stableRuntime, name));
  await predict(stableRuntime.rest, name);

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
  }, { timeoutMs: 120_000 });
  say(`the operator saw the alias move and started a canary: kubectl get md -n ${namespace}`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  say(`kubectl modelship status ${name}`);
  console.log(indent(await plugin('status', name)));

  say('the candidate revision answers too');
  const candidateRuntime = await startRevision(`${name}-${candidate}`);
  console.log(describeAddresses('candidate', candidateRuntime, name));
  await predict(candidateRuntime.rest, name);

  say(`kubectl modelship promote ${name} --full`);
  console.log(indent(await plugin('promote', name, '--full')));
  await eventually(async () => {
    const md = await getMd();
    if (md.status?.stableRevision !== candidate || !ready(md)) throw new Error('not promoted yet');
  }, { timeoutMs: 120_000 });
  say(`kubectl get md -n ${namespace}`);
  console.log(indent(await kubectl(['get', 'md', '-n', namespace])));
  say(`kubectl modelship history ${name}`);
  console.log(indent(await plugin('history', name)));

  if (keep) {
    say('running; Ctrl-C to stop');
    console.log(`   export KUBECONFIG=${plane.kubeconfigPath}`);
    console.log(`   MLflow: ${mlflow.url}`);
    console.log(describeAddresses(`revision ${stable} (replaced)`, stableRuntime, name));
    console.log(describeAddresses(`revision ${candidate} (promoted)`, candidateRuntime, name));
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
