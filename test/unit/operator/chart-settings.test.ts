import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { OperatorSettings, type ChartSource } from '../../../operator/settings.ts';
import { CHART, templateEnv, valueAt, type TemplateEnvVar } from '../../support/chart.ts';

const source = (entry: TemplateEnvVar): ChartSource => ('value' in entry ? { value: entry.value } : { fieldRef: entry.fieldRef });

describe('Helm chart against the operator settings contract (operator/settings.ts)', () => {
  it("sets exactly the contract's chart settings, each from the value or pod field the contract names", async () => {
    const env = await templateEnv('deployment.yaml');
    const chartSet = Object.fromEntries(env.map((entry) => [entry.name, source(entry)]));
    const contract = Object.fromEntries(Object.values(OperatorSettings).flatMap((setting): [string, ChartSource][] => {
      if (!('chart' in setting)) return [];
      return [[setting.name, 'value' in setting.chart ? { value: setting.chart.value } : setting.chart]];
    }));
    expect(chartSet).to.deep.equal(contract);
  });

  it('defaults each value in values.yaml to the contract default', async () => {
    const values = load(await readFile(join(CHART, 'values.yaml'), 'utf8'));
    for (const setting of Object.values(OperatorSettings)) {
      if (!('chart' in setting) || !('value' in setting.chart)) continue;
      const chartDefault = 'default' in setting.chart ? setting.chart.default : undefined;
      const expected = chartDefault ?? ('default' in setting ? setting.default : '');
      expect(valueAt(values, setting.chart.value), `${setting.chart.value} (${setting.name})`).to.equal(expected);
    }
  });
});
