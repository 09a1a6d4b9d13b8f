import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dump } from 'js-yaml';
import { CRD_NAME, modelDeploymentCrd } from './crd.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CRD_FILE = `${CRD_NAME.split('.').slice(1).join('.')}_${CRD_NAME.split('.')[0]}.yaml`;

/** Where the CRD is written: crds/ for kubectl users and the chart's crds/ for Helm. */
export const CRD_PATHS = [join('crds', CRD_FILE), join('charts', 'modelship', 'crds', CRD_FILE)];

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  content: string;
}

export function renderCrdYaml(): string {
  const header = '# Generated from operator/api/schema.ts by `npm run gen:crds`. Do not edit.\n';
  return header + dump(modelDeploymentCrd(), { noRefs: true, lineWidth: -1 });
}

export function renderCrdFiles(): GeneratedFile[] {
  const content = renderCrdYaml();
  return CRD_PATHS.map((path) => ({ path, content }));
}

/** Writes generated files under the repository root, saying which. */
export async function writeGeneratedFiles(files: GeneratedFile[]): Promise<void> {
  for (const file of files) {
    const target = join(REPO_ROOT, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    console.log(`wrote ${relative(process.cwd(), target)}`);
  }
}

/** Runs `main` when the module at `moduleUrl` is the script node was started with. */
export function runAsScript(moduleUrl: string, main: () => Promise<void>): void {
  // No top-level await: test runners load these modules with require(), which refuses async modules.
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

runAsScript(import.meta.url, () => writeGeneratedFiles(renderCrdFiles()));
