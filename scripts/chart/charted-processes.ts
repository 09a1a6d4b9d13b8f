import { ActivatorSettings } from '../../operator/activator/settings.ts';
import { OperatorSettings, type ChartedSetting } from '../../operator/settings.ts';

/** The processes the chart runs: the template of each one's container and the settings contract it reads. */
export const CHARTED_PROCESSES: readonly { process: string; template: string; settings: Readonly<Record<string, ChartedSetting>> }[] = [
  { process: 'operator', template: 'deployment.yaml', settings: OperatorSettings },
  { process: 'activator', template: 'activator.yaml', settings: ActivatorSettings },
];

/** How a generated table names where the chart sets a setting. */
export function chartSourceCell(setting: ChartedSetting): string {
  const chart = setting.chart;
  if (!chart) return 'not set by the chart';
  if ('value' in chart) return `\`${chart.value}\``;
  if ('fieldRef' in chart) return `pod \`${chart.fieldRef}\``;
  return `derived (\`${chart.template}\`)`;
}
