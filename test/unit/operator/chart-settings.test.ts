import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { ChartSource } from '../../../operator/settings.ts';
import { CHARTED_PROCESSES } from '../../../scripts/chart/charted-processes.ts';
import { CHART, templateEnv, valueAt, type TemplateEnvVar } from '../../support/chart.ts';

const source = (entry: TemplateEnvVar): ChartSource => ('value' in entry ? { value: entry.value } : 'fieldRef' in entry ? { fieldRef: entry.fieldRef } : { template: entry.template });

describe('Helm chart against the settings contracts of the processes it runs (operator/settings.ts, operator/activator/settings.ts)', () => {
  for (const { process, template, settings } of CHARTED_PROCESSES) {
    it(`${process} (templates/${template}): sets exactly the contract's chart settings, each from the value, pod field or template the contract names`, async () => {
      const env = await templateEnv(template);
      const chartSet = Object.fromEntries(env.map((entry) => [entry.name, source(entry)]));
      const contract = Object.fromEntries(Object.values(settings).flatMap((setting): [string, ChartSource][] => {
        if (!setting.chart) return [];
        return [[setting.name, 'value' in setting.chart ? { value: setting.chart.value } : setting.chart]];
      }));
      expect(chartSet).to.deep.equal(contract);
      // Helm reads numbers as floats and writes 67108864 as 6.7108864e+07, which no integer setting accepts.
      const integers = new Set(Object.values(settings).filter((setting) => setting.type === 'integer').map((setting) => setting.name));
      for (const entry of env) if ('value' in entry) expect(entry.asInteger, `${entry.name} through int64`).to.equal(integers.has(entry.name));
    });

    it(`${process}: defaults each value in values.yaml to the contract default`, async () => {
      const values = load(await readFile(join(CHART, 'values.yaml'), 'utf8'));
      for (const setting of Object.values(settings)) {
        if (!setting.chart || !('value' in setting.chart)) continue;
        const chartDefault = setting.chart.default;
        const expected = chartDefault ?? ('default' in setting ? setting.default : '');
        expect(valueAt(values, setting.chart.value), `${setting.chart.value} (${setting.name})`).to.equal(expected);
      }
    });
  }

  it('derived settings name templates the chart defines', async () => {
    const helpers = await readFile(join(CHART, 'templates', '_helpers.tpl'), 'utf8');
    for (const { settings } of CHARTED_PROCESSES) {
      for (const setting of Object.values(settings)) {
        if (setting.chart && 'template' in setting.chart) expect(helpers, setting.name).to.include(`{{- define "${setting.chart.template}" -}}`);
      }
    }
  });
});
