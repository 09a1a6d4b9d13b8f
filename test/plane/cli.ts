/**
 * `tsx test/plane/cli.ts [--real-node]` starts the test control plane in the foreground (with
 * --real-node: no simulated nodes, one real node that runs pods), prints how to reach it, and stops
 * everything on Ctrl-C or SIGTERM.
 */
import { startRealNode, type RealNode } from './node.ts';
import { startPlane } from './plane.ts';

const withRealNode = process.argv.includes('--real-node');
const log = (line: string) => console.error(`[plane] ${line}`);
const plane = await startPlane({ log, ...(withRealNode && { nodes: 0 }) });
let node: RealNode | undefined;
try {
  if (withRealNode) node = await startRealNode(plane, { log });
} catch (error) {
  await plane.stop();
  throw error;
}
console.log(`export KUBECONFIG=${plane.kubeconfigPath}`);
console.error(`[plane] kubectl: ${plane.binDir}/kubectl --kubeconfig ${plane.kubeconfigPath} get nodes`);
console.error('[plane] press Ctrl-C to stop');
const shutdown = async () => {
  console.error('[plane] stopping');
  try {
    await node?.stop();
  } finally {
    await plane.stop();
  }
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
setInterval(() => {}, 1 << 30);
