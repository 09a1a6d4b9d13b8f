import { join } from 'node:path';
import { runAsScript, writeGeneratedFiles, type GeneratedFile } from './generated-files.ts';
import { grafanaDashboard } from './chart/dashboard.ts';
import { valuesSchema } from './chart/values-schema.ts';
import { prometheusAdapterRules } from './chart/adapter-rules.ts';

const CHART_DIR = join('charts', 'modelship');
export const VALUES_SCHEMA_PATH = join(CHART_DIR, 'values.schema.json');
export const DASHBOARD_PATH = join(CHART_DIR, 'dashboards', 'modelship.json');
export const ADAPTER_RULES_PATH = join(CHART_DIR, 'files', 'prometheus-adapter-rules.yaml');

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The chart's generated files: its values schema (from operator/settings.ts), its Grafana dashboard and the prometheus-adapter rules. */
export function renderChartFiles(): GeneratedFile[] {
  return [
    { path: VALUES_SCHEMA_PATH, content: json(valuesSchema()) },
    { path: DASHBOARD_PATH, content: json(grafanaDashboard()) },
    { path: ADAPTER_RULES_PATH, content: prometheusAdapterRules() },
  ];
}

runAsScript(import.meta.url, () => writeGeneratedFiles(renderChartFiles()));
