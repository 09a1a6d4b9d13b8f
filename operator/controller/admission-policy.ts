import type { KubeRestClient } from '../kube/rest-client.ts';
import { CoreResources } from '../kube/resources.ts';

interface Policy { spec?: { failurePolicy?: string } }
interface PolicyBinding { spec?: { policyName?: string; validationActions?: string[] } }

const CHECK_EVERY_MS = 30_000;

/**
 * Whether the admission policy that checks ModelDeployment authors (the chart's, by name) is in
 * force: the policy exists, fails closed, and a binding of the same name denies. The operator
 * cannot tell who wrote a ModelDeployment, so while the policy is missing it uses no Secret and no
 * image of the author's choosing. Asked at most every 30 s.
 */
export class AdmissionPolicyCheck {
  private checked: { at: number; missing: string | undefined } | undefined;

  constructor(
    private readonly client: KubeRestClient,
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why the policy is not in force, in words for status; undefined when it is. */
  async whyNotInForce(): Promise<string | undefined> {
    if (this.checked && this.now() - this.checked.at < CHECK_EVERY_MS) return this.checked.missing;
    const missing = await this.look();
    this.checked = { at: this.now(), missing };
    return missing;
  }

  private async look(): Promise<string | undefined> {
    const get = async <T>(type: typeof CoreResources.validatingAdmissionPolicy | typeof CoreResources.validatingAdmissionPolicyBinding): Promise<T | undefined> => {
      try {
        return await this.client.get<T>(type, undefined, this.name);
      } catch {
        // Not there, or not readable: either way it cannot be shown to be in force.
        return undefined;
      }
    };
    const [policy, binding] = await Promise.all([get<Policy>(CoreResources.validatingAdmissionPolicy), get<PolicyBinding>(CoreResources.validatingAdmissionPolicyBinding)]);
    if (!policy) return `the ValidatingAdmissionPolicy ${this.name} is not installed (or cannot be read)`;
    if (policy.spec?.failurePolicy === 'Ignore') return `the ValidatingAdmissionPolicy ${this.name} has failurePolicy Ignore`;
    if (!binding || binding.spec?.policyName !== this.name) return `no ValidatingAdmissionPolicyBinding ${this.name} binds the policy ${this.name}`;
    if (!binding.spec.validationActions?.includes('Deny')) return `the ValidatingAdmissionPolicyBinding ${this.name} does not deny (validationActions ${(binding.spec.validationActions ?? []).join(', ') || 'none'})`;
    return undefined;
  }
}
