/**
 * `tsx test/plane/cli.ts` starts the test control plane in the foreground, prints how to reach it,
 * and stops everything on Ctrl-C or SIGTERM.
 */
import { startPlane } from './plane.ts';

const plane = await startPlane({ log: (line) => console.error(`[plane] ${line}`) });
console.log(`export KUBECONFIG=${plane.kubeconfigPath}`);
console.error(`[plane] kubectl: ${plane.binDir}/kubectl --kubeconfig ${plane.kubeconfigPath} get nodes`);
console.error('[plane] press Ctrl-C to stop');
const shutdown = async () => {
  console.error('[plane] stopping');
  await plane.stop();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
setInterval(() => {}, 1 << 30);
