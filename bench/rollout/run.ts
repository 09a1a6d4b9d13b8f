/**
 * Rollouts under real traffic, per router and strategy, on the real node:
 *   npm run bench:rollout -- [--rate R] [--window N]   (default: 200 requests/s, 2,000 requests per measured step)
 * Starts the test plane with one real node, the operator, and Traefik as the Gateway API
 * implementation. For each router (GatewayAPI through Traefik; Service, the model's own Service)
 * and strategy it applies a ModelDeployment, sends a bounded load (R requests/s) through the router,
 * changes the model version and promotes step by step. Prints per scenario: failed requests, the
 * time from the spec change until status says 100 % on the new revision, and at every step the
 * candidate's share of the answers (the runtime says which version answered) against the weight
 * status reports. Istio is not run: its data plane (Envoy) cannot be built here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { modelDigest } from '../../test/node/cluster.ts';
import { startLoad, type Answer } from '../../test/node/load.ts';
import { fraudRequest } from '../../test/runtime/helpers.ts';
import { eventually } from '../../test/support/eventually.ts';
import { startOperator } from '../../test/support/operator-process.ts';
import { startTraefikGateway } from '../../test/support/traefik.ts';
import { startBenchNode } from '../real-node.ts';

const { values: flags } = parseArgs({ options: { rate: { type: 'string', default: '200' }, window: { type: 'string', default: '2000' } } });
const rate = Number(flags.rate);
const windowSize = Number(flags.window);
const namespace = 'bench-rollout';
const WAIT_MS = 240_000;
const VERSIONS = { '1': 'fraud-fp32.onnx', '2': 'fraud-int8-qdq.onnx' } as const;

type Router = 'GatewayAPI' | 'Service';
interface Scenario { router: Router; strategy: 'Canary' | 'BlueGreen' | 'ABTest' | 'Mirror'; rollout: Record<string, unknown> }
interface Status { stableRevision?: string; candidateRevision?: string; weights?: { stable: number; candidate: number }; rollout?: { phase?: string; step?: number }; conditions?: { type: string; status: string; reason: string }[] }
interface StepShare { what: string; statusWeight: number; measured: number; requests: number }

const CANARY_STEPS = [{ weight: 20 }, { weight: 60 }];
const SCENARIOS: Scenario[] = [
  { router: 'GatewayAPI', strategy: 'Canary', rollout: { strategy: 'Canary', canary: { steps: CANARY_STEPS } } },
  { router: 'GatewayAPI', strategy: 'BlueGreen', rollout: { strategy: 'BlueGreen', blueGreen: { autoPromote: false } } },
  { router: 'GatewayAPI', strategy: 'ABTest', rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-variant', value: 'b' } } } },
  { router: 'GatewayAPI', strategy: 'Mirror', rollout: { strategy: 'Mirror', mirror: { percent: 100 } } },
  { router: 'Service', strategy: 'Canary', rollout: { strategy: 'Canary', canary: { steps: CANARY_STEPS } } },
  { router: 'Service', strategy: 'BlueGreen', rollout: { strategy: 'BlueGreen', blueGreen: { autoPromote: false } } },
];

const log = (line: string) => console.log(`   ${line}`);

/** Retries `check` until it returns a value (the test suites' eventually), failing with `what` after WAIT_MS. */
function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  return eventually(async () => {
    const value = await check();
    if (value === undefined) throw new Error(`timed out waiting for ${what}`);
    return value;
  }, { timeoutMs: WAIT_MS, intervalMs: 500 });
}

const share = (answers: Answer[], version: string) => (answers.length ? (100 * answers.filter((a) => a.version === version).length) / answers.length : 0);

async function main(): Promise<void> {
  const bench = await startBenchNode('rollout', log);
  try {
    const { kubectl, image, plane } = bench;
    await kubectl(['create', 'namespace', namespace]);
    const operator = await startOperator(plane.kubeconfigPath, 'operator-bench-rollout', { MODELSHIP_RUNTIME_IMAGE: image.name, MODELSHIP_LOG_LEVEL: 'info' });
    bench.onClose(() => operator.stop());
    const gateway = await startTraefikGateway(kubectl, plane.kubeconfigPath, plane.dataDir, namespace);
    bench.onClose(() => gateway.stop());

    const rows: string[] = [];
    for (const scenario of SCENARIOS) {
      const name = `${scenario.router}-${scenario.strategy}`.toLowerCase();
      const status = async (): Promise<Status> => (JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as { status?: Status }).status ?? {};
      const manifest = (version: keyof typeof VERSIONS) => JSON.stringify({
        apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace },
        spec: {
          model: { uri: `http://models.modelship-system.svc:8000/${VERSIONS[version]}`, sha256: modelDigest(VERSIONS[version]), version },
          runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } } },
          replicas: 2,
          rollout: scenario.rollout,
          traffic: scenario.router === 'GatewayAPI' ? { router: 'GatewayAPI', gateways: ['public'] } : { router: 'Service' },
        },
      });
      await kubectl(['apply', '-f', '-'], manifest('1'));
      // Ready, and where a gateway routes it, its routes accepted.
      await until(`${name} Ready`, async () => {
        const conditions = (await status()).conditions ?? [];
        const ready = conditions.find((c) => c.type === 'Ready')?.status === 'True';
        const routed = scenario.router !== 'GatewayAPI' || conditions.find((c) => c.type === 'TrafficRouting')?.reason === 'GatewayAPIRouting';
        return ready && routed ? true : undefined;
      });
      const base = scenario.router === 'GatewayAPI'
        ? gateway.traefik.url
        : `http://${(await kubectl(['get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim()}:8080`;
      const url = `${base}/v2/models/${name}/infer`;
      await sleep(2_000);
      const load = startLoad(url, { concurrency: 4, maxSeconds: 900, perSecond: rate });
      const shares: StepShare[] = [];
      const measure = async (what: string, statusWeight: number) => {
        const from = Date.now() + 2_000;
        const window = await until(`${windowSize} answers`, async () => {
          const answers = load.answers.filter((a) => a.sentAt >= from && a.status === 200);
          return answers.length >= windowSize ? answers : undefined;
        });
        shares.push({ what, statusWeight, measured: share(window, '2'), requests: window.length });
      };
      // What status says is routed: a gateway has taken the route that carries the weights, and no retired pod still answers.
      const settled = (s: Status) => !(s.conditions ?? []).some((c) => c.reason === 'RoutePending' || c.reason === 'RetiredPodsStopping');
      const waiting = (check: (s: Status) => boolean) => until(`${name} waiting for promotion`, async () => {
        const s = await status();
        return s.rollout?.phase === 'WaitingForPromotion' && check(s) && settled(s) ? s : undefined;
      });
      const promote = (how = 'true') => kubectl(['annotate', '--overwrite', 'md', name, '-n', namespace, `modelship.io/promote=${how}`]);
      const changedAt = Date.now();
      await kubectl(['apply', '-f', '-'], manifest('2'));
      const { candidateRevision } = await waiting((s) => s.candidateRevision !== undefined && (s.rollout?.step ?? 0) === 0);
      if (scenario.strategy === 'Canary') {
        for (let step = 0; step < CANARY_STEPS.length; step += 1) {
          const s = await waiting((current) => current.rollout?.step === step);
          await measure(`step ${step + 1}`, s.weights?.candidate ?? 0);
          await promote();
        }
      } else {
        const s = await status();
        await measure('before promotion', s.weights?.candidate ?? 0);
        if (scenario.strategy === 'ABTest') {
          const answers: string[] = [];
          for (let i = 0; i < 200; i += 1) {
            const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-variant': 'b' }, body: JSON.stringify(fraudRequest(1, i)) });
            answers.push(response.ok ? String(((await response.json()) as { model_version?: string }).model_version) : `failed ${response.status}`);
          }
          shares.push({ what: 'header x-variant: b', statusWeight: 100, measured: (100 * answers.filter((v) => v === '2').length) / answers.length, requests: answers.length });
        }
        await promote();
      }
      await until(`${name} promoted`, async () => {
        const s = await status();
        return s.stableRevision === candidateRevision && s.candidateRevision === undefined && s.weights?.candidate === 0 && settled(s) ? true : undefined;
      });
      const promotedMs = Date.now() - changedAt;
      await measure('after promotion', 100);
      const answers = await load.stop();
      const failed = answers.filter((a) => a.status !== 200);
      const lastOld = Math.max(...answers.filter((a) => a.version === '1').map((a) => a.sentAt));
      const shareText = shares.map((s) => `${s.what}: ${s.statusWeight}% -> ${s.measured.toFixed(1)}% (${s.requests})`).join('; ');
      rows.push(`| ${scenario.router} | ${scenario.strategy} | ${answers.length} | ${failed.length} | ${(promotedMs / 1000).toFixed(1)} | ${((lastOld - changedAt) / 1000).toFixed(1)} | ${shareText} |`);
      log(rows.at(-1) ?? '');
      if (failed.length) log(`failures: ${JSON.stringify(failed.slice(0, 3))}`);
      await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
    }
    console.log(`\nrate ${rate} requests/s, ${windowSize} requests per measured step; Traefik v3 for GatewayAPI\n`);
    console.log('| router | strategy | requests | failed | spec change -> status 100 % new (s) | last old answer after the change (s) | candidate share: status weight -> measured (requests) |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const row of rows) console.log(row);
  } finally {
    await bench.close();
  }
}

await main();
