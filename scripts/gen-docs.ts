import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-root.ts';
import { runAsScript, writeGeneratedFiles, type GeneratedFile } from './generated-files.ts';
import { ActivatorSettings } from '../operator/activator/settings.ts';
import { OperatorSettings } from '../operator/settings.ts';
import { chartSourceCell } from './chart/charted-processes.ts';
import { RuntimeContract } from '../runtime/contract.ts';
import { describeSetting, type Setting } from '../runtime/env-settings.ts';
import { apiReference } from './api-reference.ts';

/** A Markdown table; pipes inside cells are escaped so a cell never splits. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function settingCells(setting: Setting): string[] {
  const { type, default: shown, allowed } = describeSetting(setting);
  return [`\`${setting.name}\``, type, shown, allowed, setting.doc];
}

export function runtimeContractTable(): string {
  return markdownTable(['Variable', 'Type', 'Default', 'Allowed', 'Meaning'], Object.values(RuntimeContract).map(settingCells));
}

export function activatorSettingsTable(): string {
  return markdownTable(['Chart value', 'Variable', 'Type', 'Default', 'Allowed', 'Meaning'], Object.values(ActivatorSettings).map((setting) => [chartSourceCell(setting), ...settingCells(setting)]));
}

export function operatorSettingsTable(): string {
  return markdownTable(['Chart value', 'Variable', 'Type', 'Default', 'Allowed', 'Meaning'], Object.values(OperatorSettings).map((setting) => [chartSourceCell(setting), ...settingCells(setting)]));
}

/** Replaces what lies between the section's marker comments; a file without them is an error. */
export function replaceSection(text: string, section: string, content: string): string {
  const begin = `<!-- generated: ${section} (npm run gen:docs) -->`;
  const end = `<!-- end: ${section} -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the ${section} section needs the marker comments ${begin} and ${end}`);
  return `${text.slice(0, from + begin.length)}\n${content}\n${text.slice(to)}`;
}

export function apiReferenceSection(): string {
  return apiReference(markdownTable);
}

/** The generated tables and where they go; a file may hold several sections. */
export const DOC_SECTIONS = [
  { path: join('runtime', 'README.md'), section: 'runtime contract', render: runtimeContractTable },
  { path: join('charts', 'modelship', 'README.md'), section: 'operator settings', render: operatorSettingsTable },
  { path: join('charts', 'modelship', 'README.md'), section: 'activator settings', render: activatorSettingsTable },
  { path: join('docs', 'configuration.md'), section: 'runtime contract', render: runtimeContractTable },
  { path: join('docs', 'configuration.md'), section: 'operator settings', render: operatorSettingsTable },
  { path: join('docs', 'configuration.md'), section: 'activator settings', render: activatorSettingsTable },
  { path: join('docs', 'api.md'), section: 'api reference', render: apiReferenceSection },
] as const;

/** Each file with its tables regenerated. */
export async function renderDocFiles(): Promise<GeneratedFile[]> {
  const paths = [...new Set(DOC_SECTIONS.map((entry) => entry.path))];
  return Promise.all(paths.map(async (path) => ({
    path,
    content: DOC_SECTIONS.filter((entry) => entry.path === path)
      .reduce((text, { section, render }) => replaceSection(text, section, render()), await readFile(join(REPO_ROOT, path), 'utf8')),
  })));
}

runAsScript(import.meta.url, async () => writeGeneratedFiles(await renderDocFiles()));
