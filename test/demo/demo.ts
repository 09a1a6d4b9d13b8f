/**
 * The local demo: a real control plane (KWOK plays the nodes), the CRD, the operator, and the
 * example ModelDeployment. KWOK pods run no containers, so the demo plays kubelet for one pod:
 * it starts the runtime locally with exactly the environment the operator put in the pod
 * template (the model URL pointed at a local file server) and sends it an inference request.
 *
 *   npm run demo             run through and stop everything
 *   npm run demo -- --keep   leave it all running until Ctrl-C
 */
import type { V1Deployment } from '@kubernetes/client-node';
import express from 'express';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPlane } from '../plane/plane.ts';
import { freePort } from '../plane/ports.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator } from '../support/operator-process.ts';

const repoRoot = new URL('../../', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
const say = (line: string) => console.log(`\n\x1b[1m== ${line}\x1b[0m`);
const example = 'examples/fraud-detector.yaml';

say('starting the control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK)');
const plane = await startPlane({ log: (line) => console.log(`   ${line}`) });
const cleanups: (() => Promise<unknown>)[] = [() => plane.stop()];
const cleanup = async () => {
  for (const step of cleanups.reverse()) await step().catch(() => undefined);
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  say('installing the ModelDeployment CRD');
  console.log(await plane.kubectl(['apply', '--server-side', '-f', 'crds/']));
  await plane.kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io']);

  say('starting the operator');
  const operator = await startOperator(plane.kubeconfigPath, 'demo-operator', { MODELSHIP_LOG_LEVEL: 'info' });
  cleanups.push(() => operator.stop());
  console.log(`   operator metrics at ${operator.metricsUrl}`);

  const manifest = await readFile(new URL(example, `file://${repoRoot}`), 'utf8');
  const namespace = /namespace:\s*(\S+)/.exec(manifest)?.[1] ?? 'default';
  const name = /name:\s*(\S+)/.exec(manifest)?.[1] ?? 'fraud-detector';
  say(`applying ${example}`);
  await plane.kubectl(['create', 'namespace', namespace]).catch(() => undefined);
  console.log(await plane.kubectl(['apply', '-f', example]));

  await eventually(async () => {
    const out = await plane.kubectl(['get', 'md', name, '-n', namespace, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    if (out !== 'True') throw new Error('not ready yet');
  }, { timeoutMs: 90_000 });
  say(`kubectl get md -n ${namespace}`);
  console.log(await plane.kubectl(['get', 'md', '-n', namespace]));
  say(`kubectl get deploy,svc,hpa,pdb,pods -n ${namespace}`);
  console.log(await plane.kubectl(['get', 'deploy,svc,hpa,pdb,pods', '-n', namespace]));
  say(`kubectl describe md ${name} -n ${namespace}`);
  console.log(await plane.kubectl(['describe', 'md', name, '-n', namespace]));

  say('serving examples/models/ over http://127.0.0.1 (stands in for the model store)');
  const models = express().use(express.static(`${repoRoot}examples/models`));
  const modelServer = models.listen(0, '127.0.0.1');
  await new Promise((resolve) => modelServer.once('listening', resolve));
  cleanups.push(async () => modelServer.close());
  const modelBase = `http://127.0.0.1:${(modelServer.address() as AddressInfo).port}`;

  say('starting the runtime with the pod template the operator wrote');
  const deployment = JSON.parse(await plane.kubectl(['get', 'deployment', name, '-n', namespace, '-o', 'json'])) as V1Deployment;
  const container = deployment.spec?.template.spec?.containers[0];
  const env: Record<string, string> = {};
  for (const variable of container?.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  const modelPath = new URL(env.MODELSHIP_MODEL_URI ?? '').pathname.split('/').pop();
  env.MODELSHIP_MODEL_URI = `${modelBase}/${modelPath}`;
  env.MODELSHIP_MODEL_CACHE_DIR = plane.dataDir;
  // A pod's termination-message file; on this machine, a file of the demo's own.
  env.MODELSHIP_TERMINATION_MESSAGE_PATH = `${plane.dataDir}/termination-log`;
  const port = await freePort();
  env.MODELSHIP_PORT = String(port);
  env.MODELSHIP_GRPC_PORT = '0';
  console.log(`   model ${env.MODELSHIP_MODEL_URI} (sha256 ${env.MODELSHIP_MODEL_SHA256?.slice(0, 12)}...), port ${port}`);
  const runtime = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  runtime.stdout.on('data', (chunk: Buffer) => process.stdout.write(`   [runtime] ${chunk.toString()}`));
  cleanups.push(async () => { runtime.kill('SIGTERM'); await sleep(500); });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    const res = await fetch(`${base}/v2/health/ready`);
    if (!res.ok) throw new Error(`ready: ${res.status}`);
  }, { timeoutMs: 60_000 });

  const modelName = env.MODELSHIP_MODEL_NAME ?? name;
  say(`GET /v2/models/${modelName}`);
  const metadata = await (await fetch(`${base}/v2/models/${modelName}`)).json() as { inputs: { name: string; datatype: string; shape: number[] }[] };
  console.log(JSON.stringify(metadata, null, 2));
  const input = metadata.inputs[0];
  if (!input) throw new Error('the model declares no inputs');
  const features = input.shape.at(-1) ?? 1;
  const rows = [Array.from({ length: features }, (_, i) => ((i * 37) % 11) / 10 - 0.5), Array.from({ length: features }, (_, i) => (i % 5) * 1.5)];
  const request = { id: 'demo-1', inputs: [{ name: input.name, shape: [2, features], datatype: input.datatype, data: rows.flat() }] };
  say(`POST /v2/models/${modelName}/infer`);
  const response = await fetch(`${base}/v2/models/${modelName}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  console.log(response.status, JSON.stringify(await response.json()));
  say('runtime metrics (prediction_*)');
  console.log((await (await fetch(`${base}/metrics`)).text()).split('\n').filter((l) => l.startsWith('prediction_')).slice(0, 12).join('\n'));

  if (keep) {
    say(`running; KUBECONFIG=${plane.kubeconfigPath}; runtime at ${base}; Ctrl-C to stop`);
    await new Promise(() => {});
  }
  say('demo finished; stopping everything');
} finally {
  if (!keep) await cleanup();
}
