// The experiment screens' model: where a flag's experiment rollout is in an environment, how
// numbers of the results are written, the scale of the forest plot, and the checks of an
// experiment definition before it is saved. Pure functions, pinned by experiment.test.ts.
import type { Flag, Schemas } from '../api/client';
import type { Weight } from './rollout';

/** An experiment definition (`experiment` of a flag). */
export type ExperimentSpec = Schemas['ExperimentSpec'];
/** A metric of an experiment. */
export type MetricSpec = Schemas['MetricSpec'];
/** How a metric aggregates a unit's events. */
export type MetricKind = Schemas['MetricKind'];

/** The metric kinds, in the order a form offers them. */
export const METRIC_KINDS: readonly MetricKind[] = ['conversion', 'sum', 'mean'];

/** The server's defaults of the optional fields. */
export const DEFAULTS = { confidence: 0.95, dedupe_window_ms: 3_600_000, sequential_mde: 0.05 } as const;

/** A new definition: a conversion metric to name, the default rollout, the server's defaults. */
export function newSpec(): ExperimentSpec {
  return { primary_metric: { key: '', kind: 'conversion' }, guardrail_metrics: [], ...DEFAULTS };
}

/** Where an experiment's rollout is in one environment, and its weights when it is a rollout. */
export interface ExperimentRollout {
  /** `the default` or `rule "<id>"`. */
  where: string;
  /** The rollout's weights (control first); `undefined` when that place serves no rollout. */
  weights: Weight[] | undefined;
}

/** The rollout `spec` analyses in `env` of `flag` (the server reads the same place). */
export function experimentRollout(flag: Flag, spec: ExperimentSpec, env: string): ExperimentRollout {
  const t = flag.environments?.[env];
  const id = spec.rule_id ?? undefined;
  const where = id === undefined ? 'the default' : `rule "${id}"`;
  const serve = id === undefined ? t?.default : t?.rules?.find((r) => r.id === id)?.serve;
  return { where, weights: serve && 'rollout' in serve ? serve.rollout.weights : undefined };
}

/** A p-value to four decimals, `<0.0001` below that, `–` when absent (as the CLI prints). */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return '–';
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

/** `p = 0.0123` or `p < 0.0001`, for prose. */
export function pIs(p: number | null | undefined): string {
  const f = formatP(p);
  return f.startsWith('<') ? `p < ${f.slice(1)}` : `p = ${f}`;
}

/** A share (0.0123) as a signed percentage (`+1.23 %`), `–` when absent. */
export function formatLift(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)} %`;
}

/**
 * The unit of differences of a metric and the factor into it: percentage points for
 * conversions (rates are shares), the metric's own unit otherwise.
 */
export function differenceUnit(kind: MetricKind): { factor: number; unit: string } {
  return kind === 'conversion' ? { factor: 100, unit: 'pp' } : { factor: 1, unit: '' };
}

/** A signed difference in its unit, e.g. `+1.25 pp`, `−0.4012`. */
export function formatDifference(x: number, kind: MetricKind): string {
  const { factor, unit } = differenceUnit(kind);
  if (!Number.isFinite(x)) return '–';
  const v = x * factor;
  const digits = kind === 'conversion' ? 2 : 4;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

/** `[low, high]` of an interval as the API sends it (an array of two numbers). */
export function interval(ci: readonly number[]): [number, number] {
  return [ci[0] ?? Number.NaN, ci[1] ?? Number.NaN];
}

/** An interval in its unit: `−0.50 to +1.25 pp`. */
export function formatInterval(ci: readonly number[], kind: MetricKind): string {
  const [lo, hi] = interval(ci);
  const { unit } = differenceUnit(kind);
  const plain = (x: number) => formatDifference(x, kind).replace(` ${unit}`, '');
  return `${plain(lo)} to ${plain(hi)}${unit ? ` ${unit}` : ''}`;
}

/** A metric's value per unit: a rate for conversions (`12.50 %`), a mean otherwise. */
export function formatMean(x: number, kind: MetricKind): string {
  return kind === 'conversion' ? `${(x * 100).toFixed(2)} %` : x.toFixed(4);
}

/** A linear axis: its ends and the ticks to label. */
export interface Scale {
  /** Left end. */
  min: number;
  /** Right end. */
  max: number;
  /** Tick values from left to right, at "nice" steps (1, 2 or 5 × 10ⁿ). */
  ticks: number[];
}

/**
 * An axis covering `values` and 0 (the line of no effect), extended to whole steps of about
 * `count` ticks.
 */
export function niceScale(values: readonly number[], count = 5): Scale {
  const finite = values.filter(Number.isFinite);
  let lo = Math.min(0, ...finite);
  let hi = Math.max(0, ...finite);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const rough = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let v = min; v <= max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { min, max, ticks };
}

/** Where `x` falls on `scale`, from 0 (left) to `width`. */
export function place(scale: Scale, x: number, width: number): number {
  return ((x - scale.min) / (scale.max - scale.min)) * width;
}

/** Field → what is wrong with it, for the fields of a definition that are not acceptable. */
export type SpecProblems = Partial<Record<string, string>>;

const METRIC_KEY = /^\S(?:.{0,254}\S)?$/s;

/**
 * What is wrong with `spec` before it is sent: metric keys (1–256 characters without a space at
 * either end, the `key` of
 * `track` events, each metric once), a confidence in (0, 1), a positive effect size, a
 * whole, non-negative de-duplication window, and an experiment rule that exists in `rules`
 * (the rule ids of some environment). Field names are the API's (`primary_metric.key`,
 * `guardrail_metrics[1].key`, `confidence`, …).
 */
export function specProblems(spec: ExperimentSpec, rules: readonly string[]): SpecProblems {
  const out: SpecProblems = {};
  const seen = new Set<string>();
  const metrics: [string, MetricSpec][] = [
    ['primary_metric', spec.primary_metric],
    ...(spec.guardrail_metrics ?? []).map((m, i): [string, MetricSpec] => [`guardrail_metrics[${i}]`, m]),
  ];
  for (const [field, m] of metrics) {
    if (m.key === '') out[`${field}.key`] = 'Name the metric: the key of its track events.';
    else if (!METRIC_KEY.test(m.key))
      out[`${field}.key`] = 'A metric key has 1–256 characters, no space at either end.';
    else if (seen.has(m.key)) out[`${field}.key`] = `${m.key} is already a metric of this experiment.`;
    seen.add(m.key);
  }
  const c = spec.confidence ?? DEFAULTS.confidence;
  if (!(c > 0 && c < 1)) out.confidence = 'The confidence level must be between 0 and 1 (e.g. 0.95).';
  const mde = spec.sequential_mde ?? DEFAULTS.sequential_mde;
  if (!(mde > 0 && Number.isFinite(mde))) out.sequential_mde = 'The effect size must be above 0 (e.g. 0.05).';
  const w = spec.dedupe_window_ms ?? DEFAULTS.dedupe_window_ms;
  if (!(Number.isInteger(w) && w >= 0))
    out.dedupe_window_ms = 'The window must be a whole number of ms, 0 or more.';
  if (spec.rule_id != null && !rules.includes(spec.rule_id)) {
    out.rule_id = `No environment has a rule "${spec.rule_id}".`;
  }
  return out;
}

/**
 * The form field a server error's `field` names (`experiment.guardrail_metrics[0].key`,
 * `experiment`, …): the part after `experiment.`, or `experiment` for the definition as a whole.
 */
export function specField(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const m = /^(?:flags\[[^\]]*\]\.)?experiment(?:\.(.+))?$/.exec(field);
  if (!m) return undefined;
  return m[1] ?? 'experiment';
}
