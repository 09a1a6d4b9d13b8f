import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setPlane } from '../test/integration/context.ts';
import { installExampleModelStore } from '../test/node/cluster.ts';
import { startRealNode, type RealNode } from '../test/plane/node.ts';
import { startPlane, type RunningPlane } from '../test/plane/plane.ts';
import { REPO_ROOT } from '../test/runtime/helpers.ts';
import { loadProjectImages, type NodeImage } from '../test/support/node-images.ts';
import { installOptionalCrds } from '../test/support/optional-crds.ts';

export interface BenchNode {
  plane: RunningPlane;
  node: RealNode;
  /** The runtime image as the node knows it. */
  image: NodeImage;
  /** A scratch directory, removed by close(). */
  scratch: string;
  kubectl(args: string[], input?: string): Promise<string>;
  /** Runs `stop` first when closing (what started last stops first). */
  onClose(stop: () => Promise<unknown>): void;
  close(): Promise<void>;
}

/**
 * What the real-node benches start from: the test plane with one real node, the project's images
 * loaded into it, the ModelDeployment and Gateway API CRDs, and the example model store.
 */
export async function startBenchNode(name: string, log: (line: string) => void): Promise<BenchNode> {
  const plane = await startPlane({ nodes: 0, log });
  const scratch = await mkdtemp(join(tmpdir(), `modelship-bench-${name}-`));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  setPlane({ kubeconfigPath: plane.kubeconfigPath, kubeConfig, binDir: plane.binDir, server: plane.server, running: plane });
  const stops: (() => Promise<unknown>)[] = [() => plane.stop(), () => rm(scratch, { recursive: true, force: true })];
  const close = async () => {
    for (const stop of stops) await stop().catch((error: Error) => log(`stopping: ${error.message}`));
  };
  try {
    const node = await startRealNode(plane, { log });
    stops.unshift(() => node.stop());
    const kubectl = (args: string[], input?: string) => plane.kubectl(args, input);
    const image = await loadProjectImages(node, scratch, log);
    await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
    await installOptionalCrds(kubectl, 'gateway-api');
    await installExampleModelStore(kubectl);
    return { plane, node, image, scratch, kubectl, onClose: (stop) => stops.unshift(stop), close };
  } catch (error) {
    await close();
    throw error;
  }
}
