import { describe, expect, it } from 'vitest';
import type { Flag } from '../api/client';
import {
  experimentRollout,
  formatDifference,
  formatInterval,
  formatLift,
  formatMean,
  formatP,
  newSpec,
  niceScale,
  pIs,
  place,
  specField,
  specProblems,
} from './experiment';

const flag = {
  key: 'pricing',
  environments: {
    production: {
      default: { variant: 'control' },
      rules: [
        {
          id: 'eligible',
          when: { all: [] },
          serve: {
            rollout: {
              weights: [
                { variant: 'control', weight: 5000 },
                { variant: 'b', weight: 5000 },
              ],
            },
          },
        },
      ],
    },
  },
} as unknown as Flag;

describe('experimentRollout', () => {
  it('finds the rule rollout, or says the place serves no rollout', () => {
    const spec = { ...newSpec(), rule_id: 'eligible' };
    expect(experimentRollout(flag, spec, 'production')).toEqual({
      where: 'rule "eligible"',
      weights: [
        { variant: 'control', weight: 5000 },
        { variant: 'b', weight: 5000 },
      ],
    });
    expect(experimentRollout(flag, newSpec(), 'production')).toEqual({
      where: 'the default',
      weights: undefined,
    });
    expect(experimentRollout(flag, spec, 'staging').weights).toBeUndefined();
  });
});

describe('formatting', () => {
  it('writes p-values as the CLI does', () => {
    expect(formatP(0.04567)).toBe('0.0457');
    expect(formatP(0.00001)).toBe('<0.0001');
    expect(formatP(null)).toBe('–');
    expect(pIs(0.00001)).toBe('p < 0.0001');
    expect(pIs(0.5)).toBe('p = 0.5000');
  });
  it('writes lifts, differences and means with signs and units', () => {
    expect(formatLift(0.0123)).toBe('+1.23 %');
    expect(formatLift(-0.5)).toBe('−50.00 %');
    expect(formatLift(undefined)).toBe('–');
    expect(formatDifference(0.0125, 'conversion')).toBe('+1.25 pp');
    expect(formatDifference(-0.40123, 'sum')).toBe('−0.4012');
    expect(formatMean(0.125, 'conversion')).toBe('12.50 %');
    expect(formatMean(3.5, 'mean')).toBe('3.5000');
    expect(formatInterval([-0.005, 0.0125], 'conversion')).toBe('−0.50 to +1.25 pp');
    expect(formatInterval([1], 'sum')).toBe('+1.0000 to –');
  });
});

describe('niceScale', () => {
  it('covers the values and zero with nice ticks', () => {
    const s = niceScale([0.8, 3.7]);
    expect(s.min).toBe(0);
    expect(s.max).toBe(4);
    expect(s.ticks).toEqual([0, 1, 2, 3, 4]);
    const n = niceScale([-0.013, 0.021]);
    expect(n.min).toBeLessThanOrEqual(-0.013);
    expect(n.max).toBeGreaterThanOrEqual(0.021);
    expect(n.ticks).toContain(0);
  });
  it('has a width when every value is 0, and ignores non-finite values', () => {
    expect(niceScale([0, 0])).toMatchObject({ min: -1, max: 1 });
    expect(niceScale([Number.NaN, 2]).max).toBe(2);
  });
  it('places values linearly', () => {
    const s = niceScale([-1, 1]);
    expect(place(s, 0, 200)).toBe(100);
    expect(place(s, s.min, 200)).toBe(0);
    expect(place(s, s.max, 200)).toBe(200);
  });
});

describe('specProblems', () => {
  it('accepts a complete definition', () => {
    const spec = { ...newSpec(), primary_metric: { key: 'purchase', kind: 'conversion' as const } };
    expect(specProblems(spec, [])).toEqual({});
  });
  it('names each field at fault with the API names', () => {
    const spec = {
      ...newSpec(),
      primary_metric: { key: 'purchase', kind: 'conversion' as const },
      guardrail_metrics: [
        { key: '', kind: 'sum' as const },
        { key: 'purchase', kind: 'sum' as const },
      ],
      confidence: 1.5,
      sequential_mde: 0,
      dedupe_window_ms: 1.5,
      rule_id: 'gone',
    };
    expect(Object.keys(specProblems(spec, ['eligible'])).sort()).toEqual([
      'confidence',
      'dedupe_window_ms',
      'guardrail_metrics[0].key',
      'guardrail_metrics[1].key',
      'rule_id',
      'sequential_mde',
    ]);
    expect(specProblems(newSpec(), [])['primary_metric.key']).toMatch(/Name the metric/);
    const padded = { ...newSpec(), primary_metric: { key: 'buy ', kind: 'conversion' as const } };
    expect(specProblems(padded, [])['primary_metric.key']).toMatch(/no space at either end/);
    const long = { ...newSpec(), primary_metric: { key: 'k'.repeat(257), kind: 'sum' as const } };
    expect(specProblems(long, [])['primary_metric.key']).toMatch(/1–256/);
    expect(specProblems({ ...long, primary_metric: { key: 'a b', kind: 'sum' } }, [])).toEqual({});
  });
});

describe('specField', () => {
  it('reads the form field out of a server field', () => {
    expect(specField('experiment.confidence')).toBe('confidence');
    expect(specField('experiment.guardrail_metrics[0].key')).toBe('guardrail_metrics[0].key');
    expect(specField('experiment')).toBe('experiment');
    expect(specField('flags[x].experiment.rule_id')).toBe('rule_id');
    expect(specField('variants.on')).toBeUndefined();
    expect(specField(undefined)).toBeUndefined();
  });
});
