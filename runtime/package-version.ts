import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in package.json, the one place it is written. The file is looked for upwards:
 * sources sit one level below it, compiled modules two (dist/runtime/), in a checkout and in both images.
 */
export const PACKAGE_VERSION = readPackageVersion(dirname(fileURLToPath(import.meta.url)));

function readPackageVersion(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'modelship' && manifest.version) return manifest.version;
    }
    if (dirname(dir) === dir) throw new Error(`no modelship package.json with a version above ${from}`);
  }
}
