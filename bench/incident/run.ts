/**
 * The seed's incident, replayed on the real node:
 *   npm run bench:incident [-- --steady R] [--surge R] [--surge-seconds N]
 * Starts the test plane with one real node, KEDA, a Prometheus scraping the runtime pods (the
 * chart's PodMonitor), Traefik as the Gateway API implementation and the operator. Then:
 *  1. steady load on fraud-detector at 2 replicas, KEDA scaling it on its pods' mean latency;
 *  2. a surge that pushes the latency over the target: KEDA adds replicas until the pods' p99 is
 *     back under the SLO;
 *  3. a new model version that flags far more fraud, rolled out as a canary (Traefik splits the
 *     traffic) gated by the class-share analysis, and rolled back by it.
 * Prints the times and the failed requests, and writes the timeline chart (bench/incident/timeline-svg.ts)
 * to docs/incident-timeline.svg. Every load is bounded in rate and time.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ModelDeployment } from '../../operator/api/types.ts';
import { alertRules } from '../../operator/desired/alert-rules.ts';
import { MODEL_VERSION_LABEL } from '../../operator/desired/index.ts';
import { durationMs } from '../../operator/rollout/duration.ts';
import { modelDigest, podsOf } from '../../test/node/cluster.ts';
import { startLoad, type Answer, type LoadRun } from '../../test/node/load.ts';
import { scrapeRuntimePods } from '../../test/node/runtime-prometheus.ts';
import { REPO_ROOT } from '../../test/runtime/helpers.ts';
import { ensurePython, runPython } from '../../test/runtime/python.ts';
import { eventually } from '../../test/support/eventually.ts';
import { startKeda } from '../../test/support/keda.ts';
import { startOperator } from '../../test/support/operator-process.ts';
import { startTraefikGateway } from '../../test/support/traefik.ts';
import { startBenchNode } from '../real-node.ts';
import { timelineSvg, type TimelineEvent, type TimelinePoint } from './timeline-svg.ts';

const { values: flags } = parseArgs({
  options: {
    steady: { type: 'string', default: '40' },
    surge: { type: 'string', default: '700' },
    'surge-seconds': { type: 'string', default: '90' },
    rows: { type: 'string', default: '128' },
  },
});
const STEADY_RATE = Number(flags.steady);
const SURGE_RATE = Number(flags.surge);
const SURGE_SECONDS = Number(flags['surge-seconds']);
const ROWS = Number(flags.rows);
const NAMESPACE = 'incident';
const NAME = 'fraud-detector';
/**
 * The autoscaling target: the pods' mean server-side latency over a minute (KEDA's measure, logged
 * every 5 s). Warm, the steady load read 3.4-4.3 ms and the surge 7.5-10 ms at 2 replicas; the HPA
 * acts only beyond 10 % of the target, so the target sits over the first and well under the second.
 */
const LATENCY_TARGET_MS = 5;
/** The surge's damage is over when the pods' p99 over the alert's window is back under this. */
const P99_TARGET_MS = 50;
/** spec.slo.alertAfter of the replay: the latency alert's window and wait, short enough for a replay of a few minutes. */
const ALERT_AFTER = '15s';
/**
 * spec.slo.p99LatencyMs of the replay, on the pods' own prediction_latency: over the warm steady
 * state's usual tail (18-31 ms measured, with brief excursions), under the surge's first tens of seconds (58-79 ms).
 */
const SLO_P99_MS = 50;
/**
 * The steady load starts this long before the timeline: the pods' first requests are slow (cold
 * caches), and the alert's window must have forgotten them when the timeline starts.
 */
const WARMUP_SECONDS = 30;
const LATENCY_ALERT = 'ModelshipPredictionLatencyHigh';
const ANALYSIS_INTERVAL_SECONDS = 10;
const CHART = join(REPO_ROOT, 'docs', 'incident-timeline.svg');

const log = (line: string) => console.log(`   ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

interface Status {
  stableRevision?: string;
  candidateRevision?: string;
  weights?: { stable: number; candidate: number };
  rollout?: { phase?: string; abortReason?: string };
  analysis?: { verdict?: string; lastSampleAt?: string; failures?: number };
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

function quantile(sorted: readonly number[], q: number): number | undefined {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : undefined;
}

/** p99 of the client latency of the answers sent in [from, to). */
function p99Between(answers: readonly Answer[], from: number, to: number): number | undefined {
  return quantile(answers.filter((a) => a.sentAt >= from && a.sentAt < to && a.status === 200).map((a) => a.answeredAt - a.sentAt).sort((a, b) => a - b), 0.99);
}

async function main(): Promise<void> {
  const bench = await startBenchNode('incident', log);
  const loads: LoadRun[] = [];
  try {
    const { kubectl, image, node, plane, scratch } = bench;
    await kubectl(['create', 'namespace', NAMESPACE]);

    // The bad version: a model that flags about half of the clients' rows as fraud (the example flags few).
    const drift = join(scratch, 'fraud-drift.onnx');
    await runPython(await ensurePython(), ['test/integration/build_drift_model.py', drift]);
    const driftBytes = await readFile(drift);
    const driftServer = createServer((_request, response) => response.end(driftBytes));
    await new Promise<void>((resolve) => driftServer.listen(0, node.hostAddress, resolve));
    bench.onClose(() => new Promise<void>((resolve) => driftServer.close(() => resolve())));
    const driftUri = `http://${node.hostAddress}:${(driftServer.address() as AddressInfo).port}/fraud-drift.onnx`;

    const keda = await startKeda(kubectl, plane.kubeconfigPath, node.hostAddress, scratch);
    bench.onClose(() => keda.stop());

    const modelDeployment = (model: { uri: string; sha256: string; version: string }): ModelDeployment => ({
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: NAME, namespace: NAMESPACE },
      spec: {
        model,
        // A CPU limit a pod reaches under the surge: its answers slow down until more pods share the load.
        runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '250m', memory: '1Gi' } } },
        monitoring: { classNames: ['legit', 'fraud'] },
        // The page a real incident would send: the operator's own latency alert, on a window short
        // enough for a replay of a few minutes.
        slo: { p99LatencyMs: SLO_P99_MS, alertAfter: ALERT_AFTER },
        autoscaling: {
          minReplicas: 2, maxReplicas: 8, targetPredictionLatencyMs: LATENCY_TARGET_MS,
          behavior: { scaleUp: { stabilizationWindowSeconds: 0 }, scaleDown: { stabilizationWindowSeconds: 300 } },
        },
        traffic: { router: 'GatewayAPI', gateways: ['public'] },
        rollout: {
          strategy: 'Canary',
          canary: { steps: [{ weight: 20, pause: '10m' }, { weight: 100 }] },
          analysis: { interval: `${ANALYSIS_INTERVAL_SECONDS}s`, failureLimit: 1, minRequests: 20, maxClassShareRatio: 2 },
        },
      },
    });
    const manifest = (model: { uri: string; sha256: string; version: string }) => JSON.stringify(modelDeployment(model));
    const stableModel = { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx'), version: '1' };
    // Prometheus evaluates the rules of the PrometheusRule the operator writes for the model (its spec.slo).
    const scraping = await scrapeRuntimePods(kubectl, [], [{ name: `modelship.${NAMESPACE}.${NAME}`, rules: alertRules(modelDeployment(stableModel)) }]);
    bench.onClose(() => scraping.stop());
    const operator = await startOperator(plane.kubeconfigPath, 'operator-bench-incident', {
      MODELSHIP_RUNTIME_IMAGE: image.name, MODELSHIP_LOG_LEVEL: 'info', MODELSHIP_PROMETHEUS_URL: scraping.prometheus.url,
    });
    bench.onClose(() => operator.stop());
    const gateway = await startTraefikGateway(kubectl, plane.kubeconfigPath, plane.dataDir, NAMESPACE);
    bench.onClose(() => gateway.stop());
    const status = async (): Promise<Status> => (JSON.parse(await kubectl(['get', 'md', NAME, '-n', NAMESPACE, '-o', 'json'])) as { status?: Status }).status ?? {};
    const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 300_000) => eventually(async () => {
      const value = await check();
      if (value === undefined) throw new Error(`timed out waiting for ${what}`);
      return value;
    }, { timeoutMs, intervalMs: 500 });

    await kubectl(['apply', '-f', '-'], manifest(stableModel));
    const ready = await until(`${NAME} Ready, routed and scaled by KEDA`, async () => {
      const s = await status();
      const condition = (type: string) => s.conditions?.find((c) => c.type === type);
      return condition('Ready')?.status === 'True' && condition('TrafficRouting')?.reason === 'GatewayAPIRouting' && condition('Autoscaling')?.reason === 'KEDA' ? s : undefined;
    });
    log(`Autoscaling: ${ready.conditions?.find((c) => c.type === 'Autoscaling')?.message}`);
    const url = `${gateway.traefik.url}/v2/models/${NAME}/infer`;
    // 1. Steady load, warming the pods before the timeline starts.
    const steady = startLoad(url, { concurrency: 4, perSecond: STEADY_RATE, maxSeconds: 900, rows: ROWS });
    loads.push(steady);
    await sleep(Math.max(WARMUP_SECONDS * 1000, durationMs(ALERT_AFTER) + 5_000));
    log(`warm-up at the steady rate: ${steady.answers.length} requests, ${steady.answers.filter((a) => a.status !== 200).length} failed`);
    /** The latency alert's own measure: the pods' p99 prediction_latency over its window, in ms. */
    const podsP99Ms = async () => {
      const [sample] = await scraping.query(`histogram_quantile(0.99, sum by (le) (rate(prediction_latency_seconds_bucket{namespace="${NAMESPACE}",model="${NAME}"}[${ALERT_AFTER}])))`).catch(() => []);
      const value = Number(sample?.value[1]);
      return Number.isFinite(value) ? Math.round(value * 1000) : undefined;
    };
    const podsP99: { at: number; ms: number }[] = [];
    // The autoscaler's own measure: the query of the ScaledObject's latency trigger, as KEDA asks it.
    interface Trigger { type: string; metadata: { query?: string; threshold?: string } }
    const scaledObjects = JSON.parse(await kubectl(['get', 'scaledobjects', '-n', NAMESPACE, '-o', 'json'])) as { items: { spec: { triggers: Trigger[] } }[] };
    const latencyTrigger = scaledObjects.items.flatMap((item) => item.spec.triggers).find((trigger) => trigger.type === 'prometheus' && trigger.metadata.query?.includes('prediction_latency'));
    if (!latencyTrigger?.metadata.query) throw new Error('the ScaledObject has no latency trigger');
    const autoscalerMeasure = async () => {
      const [sample] = await scraping.query(latencyTrigger.metadata.query as string).catch(() => []);
      const value = Number(sample?.value[1]);
      return Number.isFinite(value) ? `${(value * 1000).toFixed(1)} ms` : '-';
    };
    const desiredReplicas = async () => {
      const hpas = JSON.parse(await kubectl(['get', 'hpa', '-n', NAMESPACE, '-o', 'json']).catch(() => '{"items":[]}')) as { items: { status?: { desiredReplicas?: number } }[] };
      return hpas.items.map((hpa) => hpa.status?.desiredReplicas ?? '?').join('+') || '-';
    };

    // The timeline: one point a second, sampled while the replay runs.
    const started = Date.now();
    const points: TimelinePoint[] = [];
    const events: TimelineEvent[] = [];
    const mark = (label: string, at = Date.now()) => {
      events.push({ t: Math.round((at - started) / 1000), label });
      log(`${seconds(at - started)} s: ${label}`);
    };
    const allAnswers = () => loads.flatMap((load) => load.answers);
    let sampling = true;
    let lastStatus: Status = {};
    let lastVerdictAt: string | undefined;
    let alertFiring = false;
    const alertChanges: { firing: boolean; at: number }[] = [];
    const sampler = (async () => {
      for (let second = 1; sampling; second++) {
        await sleep(Math.max(0, started + second * 1000 - Date.now()));
        const to = started + second * 1000;
        const answered = allAnswers().filter((a) => a.answeredAt >= to - 1000 && a.answeredAt < to);
        const latencies = answered.filter((a) => a.status === 200).map((a) => a.answeredAt - a.sentAt).sort((a, b) => a - b);
        const pods = await podsOf(kubectl, NAMESPACE, `app.kubernetes.io/instance=${NAME}`).catch(() => []);
        const replicas: Record<string, number> = {};
        for (const pod of pods) {
          if (pod.metadata.deletionTimestamp || !pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
          const version = pod.metadata.labels?.[MODEL_VERSION_LABEL] ?? '?';
          replicas[`version ${version}`] = (replicas[`version ${version}`] ?? 0) + 1;
        }
        const previousRouting = lastStatus.conditions?.find((c) => c.type === 'TrafficRouting')?.reason;
        lastStatus = await status().catch(() => lastStatus);
        const routing = lastStatus.conditions?.find((c) => c.type === 'TrafficRouting')?.reason;
        if (routing !== previousRouting && previousRouting !== undefined) mark(`TrafficRouting: ${routing}`);
        if (lastStatus.analysis?.lastSampleAt && lastStatus.analysis.lastSampleAt !== lastVerdictAt && lastStatus.analysis.verdict) {
          lastVerdictAt = lastStatus.analysis.lastSampleAt;
          mark(`analysis: ${lastStatus.analysis.verdict}`);
        }
        const podsP99Now = await podsP99Ms();
        if (podsP99Now !== undefined) podsP99.push({ at: Date.now(), ms: podsP99Now });
        if (second % 5 === 0) {
          const [measure, desired] = await Promise.all([autoscalerMeasure(), desiredReplicas()]);
          log(`${second} s: pods' p99 over ${ALERT_AFTER} ${podsP99Now ?? '-'} ms, clients' p99 over 1 s ${quantile(latencies, 0.99) ?? '-'} ms; KEDA's measure ${measure} (target ${LATENCY_TARGET_MS} ms), replicas desired ${desired}`);
        }
        const alerts = await scraping.query(`ALERTS{alertname="${LATENCY_ALERT}",alertstate="firing"}`).catch(() => undefined);
        if (alerts !== undefined && (alerts.length > 0) !== alertFiring) {
          alertFiring = alerts.length > 0;
          alertChanges.push({ firing: alertFiring, at: Date.now() });
          mark(`latency alert ${alertFiring ? 'firing' : 'resolved'}`);
        }
        const p50Ms = quantile(latencies, 0.5);
        const p99Ms = quantile(latencies, 0.99);
        points.push({
          t: second, rate: answered.length, failed: answered.filter((a) => a.status !== 200).length, replicas,
          candidateWeight: lastStatus.weights?.candidate ?? 0,
          ...(p50Ms !== undefined && { p50Ms }), ...(p99Ms !== undefined && { p99Ms }),
        });
      }
    })();

    mark(`steady load, ${STEADY_RATE}/s`);
    await sleep(30_000);
    const steadyP99 = p99Between(allAnswers(), started + 10_000, Date.now());

    // 2. The surge: the pods' p99 over the alert's window (what the SLO and the autoscaler can act
    // on) goes over the target, and is back once it is under it again. The surge ends 20 s after
    // that, or after its time. The clients' p99 also holds the proxy and the load generator, which
    // share the machine's two cores with the pods.
    const surgeAt = Date.now();
    const replicasNow = () => Object.values(points.at(-1)?.replicas ?? {}).reduce((a, b) => a + b, 0);
    const replicasAtSurge = replicasNow();
    const surge = startLoad(url, { concurrency: 8, perSecond: SURGE_RATE - STEADY_RATE, maxSeconds: SURGE_SECONDS, rows: ROWS });
    loads.push(surge);
    mark(`surge to ${SURGE_RATE}/s`, surgeAt);
    let overAt: number | undefined;
    let recoveredAt: number | undefined;
    let addedReplicaAt: number | undefined;
    while (Date.now() < surgeAt + SURGE_SECONDS * 1000 && (recoveredAt === undefined || Date.now() < recoveredAt + 20_000)) {
      await sleep(1_000);
      const latest = podsP99.at(-1);
      if (addedReplicaAt === undefined && replicasNow() > replicasAtSurge) {
        addedReplicaAt = Date.now();
        mark(`replica added (${replicasNow()} ready)`, addedReplicaAt);
      }
      if (!latest || latest.at < surgeAt) continue;
      if (overAt === undefined && latest.ms > P99_TARGET_MS) overAt = latest.at;
      if (overAt !== undefined && recoveredAt === undefined && latest.ms <= P99_TARGET_MS) recoveredAt = latest.at;
    }
    const clientsP99AtSurgeEnd = p99Between(allAnswers(), Date.now() - 10_000, Date.now());
    if (overAt !== undefined) mark(`pods' p99 over ${P99_TARGET_MS} ms`, overAt);
    if (recoveredAt !== undefined) mark(`pods' p99 back under ${P99_TARGET_MS} ms`, recoveredAt);
    const replicasAtPeak = Math.max(...points.map((p) => Object.values(p.replicas).reduce((a, b) => a + b, 0)));
    await surge.stop();
    const surgeEndedAt = Date.now();
    mark('surge over');
    await sleep(10_000);

    // 3. The bad version, as a canary gated by the analysis.
    const changedAt = Date.now();
    await kubectl(['apply', '-f', '-'], manifest({ uri: driftUri, sha256: createHash('sha256').update(driftBytes).digest('hex'), version: '2' }));
    mark('version 2 applied (canary 20 %)', changedAt);
    const firstBad = await until('a first answer from version 2', async () => allAnswers().filter((a) => a.version === '2').sort((a, b) => a.answeredAt - b.answeredAt)[0]);
    mark('first answer from version 2', firstBad.answeredAt);
    const aborted = await until('the rollback', async () => {
      const s = lastStatus;
      return s.rollout?.phase === 'Aborted' && s.weights?.candidate === 0 ? { at: Date.now(), status: s } : undefined;
    });
    mark(`rolled back (${aborted.status.rollout?.abortReason})`, aborted.at);
    await sleep(15_000);
    for (const load of loads) await load.stop();
    sampling = false;
    await sampler;

    const answers = allAnswers();
    const failed = answers.filter((a) => a.status !== 200);
    const badAnswers = answers.filter((a) => a.version === '2');
    const lastBad = Math.max(...badAnswers.map((a) => a.answeredAt));
    const firstFailedSample = events.find((e) => e.label === 'analysis: Fail');
    console.log(`\nsteady ${STEADY_RATE}/s, surge ${SURGE_RATE}/s for up to ${SURGE_SECONDS} s, ${ROWS} rows per request; pods limited to 250m CPU; KEDA target ${LATENCY_TARGET_MS} ms mean latency, p99 target ${P99_TARGET_MS} ms\n`);
    console.log('| measure | value |');
    console.log('| --- | --- |');
    console.log(`| clients' p99 before the surge (ms) | ${steadyP99 ?? '-'} |`);
    console.log(`| surge -> pods' p99 (${ALERT_AFTER} window) over ${P99_TARGET_MS} ms (s) | ${overAt === undefined ? 'never over' : seconds(overAt - surgeAt)} |`);
    console.log(`| surge -> a replica added and ready (s) | ${addedReplicaAt === undefined ? 'none added' : seconds(addedReplicaAt - surgeAt)} |`);
    console.log(`| surge -> pods' p99 back under ${P99_TARGET_MS} ms (s) | ${recoveredAt === undefined ? 'not within the surge' : seconds(recoveredAt - surgeAt)} |`);
    console.log(`| replicas at the surge / at the peak | ${replicasAtSurge} / ${replicasAtPeak} |`);
    console.log(`| clients' p99 in the surge's last 10 s (ms) | ${clientsP99AtSurgeEnd ?? '-'} |`);
    const podsP99During = (from: number, to: number) => Math.max(...podsP99.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.ms));
    console.log(`| pods' p99 (${ALERT_AFTER} window) at its highest: before the surge / during it (ms) | ${podsP99During(started, surgeAt)} / ${podsP99During(surgeAt, surgeEndedAt)} |`);
    const firedAt = alertChanges.find((change) => change.firing && change.at >= surgeAt)?.at;
    const resolvedAt = firedAt === undefined ? undefined : alertChanges.find((change) => !change.firing && change.at > firedAt)?.at;
    const firedBefore = alertChanges.filter((change) => change.firing && change.at < surgeAt).length;
    console.log(`| ${LATENCY_ALERT} (p99 over ${SLO_P99_MS} ms for ${ALERT_AFTER}) before the surge | ${firedBefore === 0 ? 'never fired' : `fired ${firedBefore} time(s)`} |`);
    console.log(`| surge -> the alert firing (s) | ${firedAt === undefined ? 'never fired' : seconds(firedAt - surgeAt)} |`);
    console.log(`| surge -> the alert resolved (s) | ${resolvedAt === undefined ? (firedAt === undefined ? '-' : 'still firing at the end') : seconds(resolvedAt - surgeAt)} |`);
    console.log(`| bad version's first answer -> first failed analysis sample (s) | ${firstFailedSample ? seconds(started + firstFailedSample.t * 1000 - firstBad.answeredAt) : '-'} |`);
    console.log(`| bad version's first answer -> status 100 % stable (s) | ${seconds(aborted.at - firstBad.answeredAt)} |`);
    console.log(`| bad version's first answer -> its last answer (s) | ${seconds(lastBad - firstBad.answeredAt)} |`);
    console.log(`| answers from the bad version | ${badAnswers.length} |`);
    console.log(`| requests / failed for clients | ${answers.length} / ${failed.length} |`);
    console.log(`| whole replay (s) | ${seconds(Date.now() - started)} |`);
    for (const failure of failed.slice(0, 5)) log(`failed at ${seconds(failure.sentAt - started)} s: status ${failure.status} ${failure.version.slice(0, 120)}`);
    await writeFile(CHART, timelineSvg(points, events, `Incident replay: surge, autoscaling (KEDA), bad version rolled back (${new Date().toISOString().slice(0, 10)})`, P99_TARGET_MS));
    log(`timeline written to ${CHART}`);
  } finally {
    for (const load of loads) await load.stop().catch(() => undefined);
    await bench.close();
  }
}

await main();
