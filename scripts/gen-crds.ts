import { join } from 'node:path';
import { dump } from 'js-yaml';
import { CRD_NAME, modelDeploymentCrd } from '../operator/api/crd.ts';
import { runAsScript, writeGeneratedFiles, type GeneratedFile } from './generated-files.ts';

const CRD_FILE = `${CRD_NAME.split('.').slice(1).join('.')}_${CRD_NAME.split('.')[0]}.yaml`;

/** Where the CRD is written: crds/ for kubectl users and the chart's crds/ for Helm. */
export const CRD_PATHS = [join('crds', CRD_FILE), join('charts', 'modelship', 'crds', CRD_FILE)];

export function renderCrdYaml(): string {
  const header = '# Generated from operator/api/schema.ts by `npm run gen:crds`. Do not edit.\n';
  return header + dump(modelDeploymentCrd(), { noRefs: true, lineWidth: -1 });
}

export function renderCrdFiles(): GeneratedFile[] {
  const content = renderCrdYaml();
  return CRD_PATHS.map((path) => ({ path, content }));
}

runAsScript(import.meta.url, () => writeGeneratedFiles(renderCrdFiles()));
