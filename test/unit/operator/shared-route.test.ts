import { expect } from 'chai';
import { ownRulesHold } from '../../../operator/controller/shared-route.ts';
import type { GatewayRoute } from '../../../operator/desired/routing/gateway-api.ts';
import { ownRules, sharedRuleNames, withOwnRules } from '../../../operator/desired/routing/shared-route.ts';
import { modelDeployment } from './fixtures.ts';

describe('rules in an HTTPRoute the user owns (traffic.httpRouteRef)', () => {
  const md = modelDeployment({ traffic: { router: 'GatewayAPI', httpRouteRef: { name: 'shop' } } });
  const other = modelDeployment({ traffic: { router: 'GatewayAPI', httpRouteRef: { name: 'shop' } } }, 'churn.v2');
  const names = sharedRuleNames(md);
  const checkout = { name: 'checkout', matches: [{ path: { type: 'PathPrefix', value: '/checkout' } }], backendRefs: [{ name: 'checkout', port: 80 }] };
  const unnamed = { backendRefs: [{ name: 'home', port: 80 }] };
  const churn = { name: sharedRuleNames(other).primary, backendRefs: [{ name: 'churn', port: 8080 }] };
  const mine = (weight: number) => ({ name: names.primary, backendRefs: [{ name: 'a', port: 8080, weight: 100 - weight }, { name: 'b', port: 8080, weight }] });

  it('names its rules after the ModelDeployment, as DNS labels', () => {
    expect(sharedRuleNames(other)).to.deep.equal({ primary: 'modelship-churn-v2', ab: 'modelship-churn-v2-ab' });
  });

  it('replaces only its own rules, keeping everyone else\'s (another model\'s too) as they are and in their order', () => {
    const before = [checkout, mine(10), unnamed, churn];
    const after = withOwnRules(before, md, [{ name: names.ab, backendRefs: [{ name: 'b', port: 8080 }] }, mine(50)]);
    expect(after).to.deep.equal([checkout, unnamed, churn, { name: names.ab, backendRefs: [{ name: 'b', port: 8080 }] }, mine(50)]);
    expect(ownRules(after, md).map((rule) => rule.name)).to.deep.equal([names.ab, names.primary]);
    expect(withOwnRules(after, md, [])).to.deep.equal([checkout, unnamed, churn]);
  });

  it('writes when its rules differ, also when a field was dropped (a mirror ended), not for the apiserver\'s defaults', () => {
    const route = (rules: Record<string, unknown>[]): GatewayRoute => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop' }, spec: { rules } });
    const defaulted = { name: names.primary, backendRefs: [{ group: '', kind: 'Service', name: 'a', port: 8080, weight: 90 }, { group: '', kind: 'Service', name: 'b', port: 8080, weight: 10 }] };
    expect(ownRulesHold(route([checkout, defaulted]), md, [mine(10)])).to.equal(true);
    expect(ownRulesHold(route([checkout, defaulted]), md, [mine(20)])).to.equal(false);
    const mirrored = { ...defaulted, filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'b', port: 8080 } } }] };
    expect(ownRulesHold(route([mirrored]), md, [mine(10)])).to.equal(false);
    expect(ownRulesHold(route([checkout]), md, [mine(10)])).to.equal(false);
    expect(ownRulesHold(route([checkout, defaulted]), md, [])).to.equal(false);
  });
});
