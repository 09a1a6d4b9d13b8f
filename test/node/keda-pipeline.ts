import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plane } from '../integration/context.ts';
import { startKeda } from '../support/keda.ts';
import { leaveNamespace, prepareNamespace } from './cluster.ts';
import { realNode } from './context.ts';
import { scrapeRuntimePods } from './runtime-prometheus.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

/** What a suite adds to the pipeline, started after KEDA and before Prometheus and the operator. */
export interface PipelineExtra {
  staticJobs?: { job: string; targets: string[] }[];
  operatorEnv?: Record<string, string>;
  stop?(): Promise<void>;
}

export interface KedaPipeline {
  /** Stops the operator and leaves the namespace, then Prometheus, the extra and KEDA, and removes the logs. */
  stop(): Promise<void>;
}

/**
 * The autoscaling suites' metrics pipeline on the real node: KEDA (first, so the operator finds its
 * CRD installed when it starts), what `extra` starts, a Prometheus scraping the runtime pods (and the
 * extra's jobs), and the operator of `namespace` told of that Prometheus. What started is stopped
 * again if a later part fails.
 */
export async function startKedaPipeline(kubectl: Kubectl, namespace: string, operatorIdentity: string, extra: (logDir: string) => Promise<PipelineExtra> = async () => ({})): Promise<KedaPipeline> {
  const logDir = await mkdtemp(join(tmpdir(), `modelship-${namespace}-`));
  const stops: (() => Promise<void>)[] = [() => rm(logDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const keda = await startKeda(kubectl, plane().running.kubeconfigPath, realNode().node.hostAddress, logDir);
    stops.push(() => keda.stop());
    const added = await extra(logDir);
    if (added.stop) stops.push(added.stop);
    const scraping = await scrapeRuntimePods(kubectl, added.staticJobs);
    stops.push(() => scraping.stop());
    const operator = await prepareNamespace(kubectl, namespace, operatorIdentity, { MODELSHIP_PROMETHEUS_URL: scraping.prometheus.url, ...added.operatorEnv });
    // The operator goes first: it would write the ScaledObjects again while KEDA finalizes them.
    stops.push(() => leaveNamespace(kubectl, namespace, operator));
    return { stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
