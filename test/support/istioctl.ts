import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPath } from './test-tools.ts';

const run = promisify(execFile);

/** istioctl's exit status when analysis found messages at or above --failure-threshold. */
const EXIT_ANALYZER_FOUND_ISSUES = 79;

/** One message of `istioctl analyze -o json`. */
export interface IstioFinding {
  /** Message code, e.g. IST0101 (ReferencedResourceNotFound). */
  code: string;
  level: 'Error' | 'Warning' | 'Info';
  /** The resource the message is about, e.g. "VirtualService team-a/fraud". */
  origin?: string;
  message: string;
  documentationUrl?: string;
}

/**
 * Runs the real istioctl (built from istio.io/istio) analyzers against the live objects of one
 * namespace. No istiod is needed: analysis reads the apiserver only, with the default mesh config.
 */
export async function istioAnalyze(kubeconfigPath: string, namespace: string): Promise<IstioFinding[]> {
  const istioctl = await toolPath('build-istioctl.sh');
  const args = ['analyze', '--use-kube=true', `--kubeconfig=${kubeconfigPath}`, `--namespace=${namespace}`, '--output=json'];
  const result = await run(istioctl, args, { maxBuffer: 16 * 1024 * 1024 }).catch((error: unknown) => {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (failed.code === EXIT_ANALYZER_FOUND_ISSUES && typeof failed.stdout === 'string') return { stdout: failed.stdout, stderr: failed.stderr ?? '' };
    throw new Error(`istioctl ${args.join(' ')} failed (exit ${String(failed.code)}): ${failed.stderr ?? String(error)}`);
  });
  return parseFindings(result.stdout);
}

function parseFindings(stdout: string): IstioFinding[] {
  const parsed: unknown = JSON.parse(stdout.trim() || '[]');
  if (!Array.isArray(parsed)) throw new Error(`istioctl analyze -o json printed no list: ${stdout}`);
  return parsed as IstioFinding[];
}
