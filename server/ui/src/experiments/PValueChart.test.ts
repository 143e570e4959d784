import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { ExperimentResults, MetricResult } from '../api/queries';
import PValueChart from './PValueChart';

const metric = {
  key: 'revenue',
  kind: 'sum',
  role: 'guardrail',
  variants: ['control', 'discount-10', 'free-shipping'].map((variant) => ({
    variant,
    units: 1,
    mean: 0,
    variance: 0,
  })),
  comparisons: ['discount-10', 'free-shipping'].map((variant) => ({
    variant,
    difference: 0,
    difference_ci: [0, 0],
    p_value: 0.5,
  })),
} as unknown as MetricResult;

function timeline(p: [number, number][]): ExperimentResults['timeline'] {
  return p.map(([a, b], i) => ({
    at: 1_000 * (i + 1),
    units: 10,
    comparisons: [
      { metric: 'revenue', variant: 'discount-10', sequential_p_value: a, p_value: a },
      { metric: 'revenue', variant: 'free-shipping', sequential_p_value: b, p_value: b },
    ],
  }));
}

function render(points: [number, number][]): string {
  return renderToStaticMarkup(
    createElement(PValueChart, { metric, timeline: timeline(points), confidence: 0.95 }),
  );
}

describe('PValueChart', () => {
  it('draws one line per treatment and labels their last p-values apart, inside the chart', () => {
    const html = render([
      [1, 1],
      [0.9436, 0.9701],
    ]);
    expect(html.match(/<polyline/g)).toHaveLength(2);
    const ys = [...html.matchAll(/<text class="value" x="\d+" y="([\d.]+)">([^<]*)/g)].map((m) => ({
      y: Number(m[1]),
      text: m[2],
    }));
    expect(ys.map((l) => l.text)).toEqual(['free-shipping 0.9701', 'discount-10 0.9436']);
    expect(ys[0]?.y).toBeGreaterThanOrEqual(20);
    expect((ys[1]?.y ?? 0) - (ys[0]?.y ?? 0)).toBeGreaterThanOrEqual(14);
  });

  it('describes the last values for assistive technology and draws nothing without a series', () => {
    expect(
      render([
        [0.5, 0.2],
        [0.00001, 0.3],
      ]),
    ).toContain('discount-10: &lt; 0.0001');
    expect(render([[0.5, 0.2]])).toBe('');
  });
});
