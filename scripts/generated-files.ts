import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './repo-root.ts';

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  content: string;
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
