/**
 * Operator scale benchmark on the real test control plane:
 *   npm run bench:operator -- [N ...] [--steady-seconds S] [--canaries C] [--changes K] [--phase-minutes M] [--max-heap-mb H] [--skip-floor] [--cpu-prof DIR] [--heap-prof DIR]
 *   (default: 200 1000, 60 s, 200 canaries, 100 changes, 10 minutes a phase; --max-heap-mb runs the operator with
 *   the V8 heap limit the Helm chart sets for a memory limit of H + 96 MiB; --skip-floor and the profiles are for profiling runs)
 * For each N, two fresh planes of the same size:
 * - the floor: N ModelDeployments created at once, and their children and statuses written by a
 *   plain loop (bench/operator/floor.ts) with the operator's REST client and worker count;
 * - the operator as built by `npm run build` (leader election on, Istio's CRDs installed when there
 *   are canaries): the same N created at once. Prints time until every status is written (and its
 *   ratio to the floor's), until every one is Ready (pods Ready via KWOK), API writes during S
 *   seconds of steady state, and the operator's peak RSS; then K spec changes one at a time, each
 *   timed until its Deployment shows it (p50/p99); then C Canary ModelDeployments are
 *   created, and once all are Ready their model version is changed: time until every status and
 *   every VirtualService gives the candidate the first step's weight.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ModelDeployment } from '../../operator/api/types.ts';
import { loadOperatorConfig } from '../../operator/config.ts';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import { childKinds } from '../../operator/desired/child-kinds.ts';
import { Informer } from '../../operator/kube/informer.ts';
import { KubeRestClient } from '../../operator/kube/rest-client.ts';
import { startPlane, type RunningPlane } from '../../test/plane/plane.ts';
import { installOptionalCrds } from '../../test/support/optional-crds.ts';
import { startOperator } from '../../test/support/operator-process.ts';
import { canaryRollout, type CanaryResult } from './canary.ts';
import { writeFloor } from './floor.ts';
import { percentile, specChangeLatency, type SpecChangeResult } from './spec-change.ts';
import { createAll, hasCurrentStatus, isReady, modelDeployment, seconds, timeUntil } from './workload.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'steady-seconds': { type: 'string', default: '60' },
    canaries: { type: 'string', default: '200' },
    changes: { type: 'string', default: '100' },
    'phase-minutes': { type: 'string', default: '10' },
    'max-heap-mb': { type: 'string' },
    'skip-floor': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'heap-prof': { type: 'string' },
  },
});
const steadySeconds = Number(flags['steady-seconds']);
const canaryCount = Number(flags.canaries);
const runs = positionals.length ? positionals.map(Number) : [200, 1000];
const namespace = 'bench';
const PHASE_TIMEOUT_MS = Number(flags['phase-minutes']) * 60_000;
const changeCount = Number(flags.changes);
const profileArgs = [
  ...(flags['max-heap-mb'] ? [`--max-old-space-size=${flags['max-heap-mb']}`] : []),
  ...(flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`] : []),
  ...(flags['heap-prof'] ? ['--heap-prof', `--heap-prof-dir=${flags['heap-prof']}`] : []),
];

async function peakRssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** A fresh plane with the CRDs and the namespace, and a client and a ModelDeployment watcher on it. */
async function withPlane<T>(pods: number, istio: boolean, body: (plane: RunningPlane, client: KubeRestClient, watcher: Informer<ModelDeployment>) => Promise<T>): Promise<T> {
  const plane = await startPlane({ nodes: Math.max(2, Math.ceil(pods / 400)), log: (l) => console.log(`   ${l}`) });
  try {
    await plane.kubectl(['apply', '--server-side', '-f', 'crds/']);
    await plane.kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io']);
    if (istio) await installOptionalCrds(plane.kubectl, 'istio');
    await plane.kubectl(['create', 'namespace', namespace]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.kubeconfigPath);
    const client = new KubeRestClient(kubeConfig);
    const watcher = new Informer<ModelDeployment>(client, modelDeploymentResource, { namespace });
    watcher.start();
    await watcher.waitForSync();
    try {
      return await body(plane, client, watcher);
    } finally {
      await watcher.stop();
    }
  } finally {
    await plane.stop();
  }
}

const manifests = (count: number) => Array.from({ length: count }, (_, i) => modelDeployment(namespace, `model-${i}`, i));
const allHaveStatus = (watcher: Informer<ModelDeployment>, count: number) => () => watcher.list().filter(hasCurrentStatus).length === count;

interface OperatorRun {
  statusMs?: number;
  readyMs?: number;
  steadyWrites: number;
  leaseWrites: number;
  rssMb: number;
  reconciles: number;
  specChange?: SpecChangeResult;
  canary?: CanaryResult;
  rssAfterCanariesMb?: number;
}

async function floorRun(count: number): Promise<number | undefined> {
  console.log(`\n== N=${count}: floor (plain apply loop, no operator) on a fresh control plane`);
  return withPlane(count + 2 * canaryCount, canaryCount > 0, async (_plane, client, watcher) => {
    // What the operator's start does before the clock starts: a list of every (required) kind, then 3 s.
    await Promise.all(childKinds.filter((kind) => !kind.optional).map((kind) => client.list(kind, { limit: 1 }, namespace)));
    await sleep(3_000);
    const started = Date.now();
    const written = writeFloor(client, loadOperatorConfig(process.env), manifests(count));
    const statusMs = await timeUntil(started, PHASE_TIMEOUT_MS, allHaveStatus(watcher, count));
    await written;
    console.log(`   floor: all statuses written after ${seconds(statusMs)} s`);
    return statusMs;
  });
}

async function operatorRun(count: number): Promise<OperatorRun> {
  console.log(`\n== N=${count}: operator on a fresh control plane`);
  return withPlane(count + 2 * canaryCount, canaryCount > 0, async (plane, client, watcher) => {
    const operator = await startOperator(plane.kubeconfigPath, 'bench-operator', {
      MODELSHIP_LOG_LEVEL: 'info', MODELSHIP_LEASE_DURATION_SECONDS: '15', MODELSHIP_RENEW_DEADLINE_SECONDS: '10', MODELSHIP_RETRY_PERIOD_SECONDS: '2',
    }, { compiled: true, nodeArgs: profileArgs });
    try {
      await sleep(3_000);
      const started = Date.now();
      await createAll(client, manifests(count));
      const createdMs = Date.now() - started;
      const statusMs = await timeUntil(started, PHASE_TIMEOUT_MS, allHaveStatus(watcher, count));
      const readyMs = await timeUntil(started, PHASE_TIMEOUT_MS, () => watcher.list().filter(isReady).length === count);
      console.log(`   created in ${createdMs} ms; all statuses written after ${seconds(statusMs)} s; all Ready after ${seconds(readyMs)} s`);
      const failures = new Map<string, number>();
      for (const entry of operator.logs.filter((e) => e.msg === 'reconcile failed')) {
        const message = String((entry.err as { message?: string } | undefined)?.message ?? '').replace(/model-\d+/g, 'model-N').slice(0, 200);
        failures.set(message, (failures.get(message) ?? 0) + 1);
      }
      for (const [message, times] of [...failures].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`   reconcile failed x${times}: ${message}`);

      await sleep(5_000);
      const writes = async () => (await operator.metric('modelship_api_writes_total')) - (await operator.metric('modelship_api_writes_total', { resource: 'leases' }));
      const leaseWrites = () => operator.metric('modelship_api_writes_total', { resource: 'leases' });
      const [w0, l0] = [await writes(), await leaseWrites()];
      console.log(`   steady state: counting API writes for ${steadySeconds}s`);
      await sleep(steadySeconds * 1000);
      const [w1, l1] = [await writes(), await leaseWrites()];
      const mb = async (name: string) => ((await operator.metric(name)) / 2 ** 20).toFixed(0);
      console.log(`   operator now: RSS ${await mb('process_resident_memory_bytes')} MB, V8 heap used ${await mb('nodejs_heap_size_used_bytes')} of ${await mb('nodejs_heap_size_total_bytes')} MB`);
      const result: OperatorRun = {
        ...(statusMs !== undefined && { statusMs }), ...(readyMs !== undefined && { readyMs }),
        steadyWrites: w1 - w0, leaseWrites: l1 - l0,
        rssMb: await peakRssMb(operator.child.pid),
        reconciles: await operator.metric('modelship_reconcile_total'),
      };
      if (changeCount > 0) {
        result.specChange = await specChangeLatency(client, namespace, count, changeCount);
        const { latenciesMs, missed } = result.specChange;
        console.log(`   ${latenciesMs.length + missed} spec changes, one at a time: to their Deployment p50 ${percentile(latenciesMs, 50)} ms, p99 ${percentile(latenciesMs, 99)} ms, max ${latenciesMs.at(-1)} ms, ${missed} not within 10 s`);
      }
      if (canaryCount > 0) {
        console.log(`   ${canaryCount} canaries: creating, then changing the model version of all`);
        result.canary = await canaryRollout(client, watcher, namespace, canaryCount, true, PHASE_TIMEOUT_MS);
        result.rssAfterCanariesMb = await peakRssMb(operator.child.pid);
        const { readyMs: r, patchMs, statusWeightMs, virtualServiceWeightMs } = result.canary;
        console.log(`   canaries Ready after ${seconds(r)} s; version patched in ${patchMs} ms; first weight in every status after ${seconds(statusWeightMs)} s, in every VirtualService after ${seconds(virtualServiceWeightMs)} s`);
      }
      return result;
    } finally {
      await operator.stop();
    }
  });
}

const rows: string[] = [];
const canaryRows: string[] = [];
for (const count of runs) {
  const floorMs = flags['skip-floor'] ? undefined : await floorRun(count);
  const run = await operatorRun(count);
  const ratio = run.statusMs !== undefined && floorMs ? (run.statusMs / floorMs).toFixed(2) : 'n/a';
  const changeLatency = run.specChange ? `${percentile(run.specChange.latenciesMs, 50)} / ${percentile(run.specChange.latenciesMs, 99)} (${run.specChange.missed} missed)` : 'n/a';
  rows.push(`| ${count} | ${flags['skip-floor'] ? 'skipped' : seconds(floorMs)} | ${seconds(run.statusMs)} | **${ratio}** | ${seconds(run.readyMs)} | ${run.steadyWrites} | ${run.leaseWrites} | ${run.rssMb.toFixed(0)} | ${run.reconciles} | ${changeLatency} |`);
  if (run.canary) {
    const { readyMs, patchMs, statusWeightMs, virtualServiceWeightMs } = run.canary;
    canaryRows.push(`| ${count} | ${canaryCount} | ${seconds(readyMs)} | ${seconds(patchMs)} | ${seconds(statusWeightMs)} | ${seconds(virtualServiceWeightMs)} | ${run.rssAfterCanariesMb?.toFixed(0)} |`);
  }
}

console.log('\n| N | floor: all statuses written (s) | operator: all statuses written (s) | operator / floor | all Ready (s) | writes in steady state (non-lease) | lease renewals | operator peak RSS (MB) | reconciles | spec change -> Deployment p50 / p99 (ms) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
if (canaryRows.length) {
  console.log('\n| N | canaries | canaries all Ready (s) | version patches (s) | change → first weight in every status (s) | change → in every VirtualService (s) | operator peak RSS after (MB) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of canaryRows) console.log(row);
}
