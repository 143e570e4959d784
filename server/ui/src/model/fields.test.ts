import { describe, expect, it } from 'vitest';
import { placeOf } from './fields';

describe('placeOf', () => {
  const rules = [{ id: 'beta' }, { id: 'eu' }];
  it('finds a rule by id or index in the compile path', () => {
    expect(placeOf('flags[checkout].rules[eu].when.all[1]', rules)).toEqual({ section: 'rules', rule: 1 });
    expect(placeOf('rules[0].serve', rules)).toEqual({ section: 'rules', rule: 0 });
  });
  it('names the other sections', () => {
    expect(placeOf('flags[x].default.rollout.weights', rules)).toEqual({ section: 'default' });
    expect(placeOf('variants.big.limit', rules)).toEqual({ section: 'variants' });
    expect(placeOf('off_variant', rules)).toEqual({ section: 'off_variant' });
    expect(placeOf(undefined, rules)).toBeUndefined();
  });
});
