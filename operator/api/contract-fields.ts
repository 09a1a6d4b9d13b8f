import Type from 'typebox';
import type { IntegerSetting } from '../../runtime/env-settings.ts';

/**
 * A spec field the operator passes to the runtime as an integer setting: its range, and its
 * default where the apiserver fills one in, come from the runtime contract (runtime/contract.ts).
 */
export function ContractInteger(setting: IntegerSetting, options: { withDefault?: boolean; description?: string } = {}) {
  return Type.Integer({
    minimum: setting.min,
    maximum: setting.max,
    ...(options.withDefault ? { default: setting.default } : {}),
    ...(options.description ? { description: options.description } : {}),
  });
}
