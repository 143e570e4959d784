// The rollout editor's model: weights are basis points (0..=10000) that must total exactly
// 10000 (spec/SNAPSHOT.md §2.1); the editor shows them as percentages with two decimals and
// as one bar. Pure functions, pinned by rollout.test.ts.

/** One variant's share of a rollout, in basis points. */
export interface Weight {
  /** Variant key. */
  variant: string;
  /** Basis points, 0..=10000. */
  weight: number;
}

/** The total a rollout's weights must reach. */
export const FULL = 10000;

/** Sum of the weights. */
export function total(weights: readonly Weight[]): number {
  return weights.reduce((s, w) => s + w.weight, 0);
}

/** Whether the weights are valid: each an integer in 0..=10000, together exactly 10000. */
export function isComplete(weights: readonly Weight[]): boolean {
  return (
    weights.length > 0 &&
    weights.every((w) => Number.isInteger(w.weight) && w.weight >= 0 && w.weight <= FULL) &&
    total(weights) === FULL
  );
}

/** `3333` → `"33.33"`. */
export function toPercent(weight: number): string {
  return (weight / 100).toFixed(2).replace(/\.?0+$/, '');
}

/**
 * `"33.33"` (or `"33.33 %"`) → `3333`; `undefined` for text that is not a percentage in
 * 0..=100 with at most two decimals.
 */
export function fromPercent(text: string): number | undefined {
  const t = text.replace('%', '').trim();
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(t)) return undefined;
  const [whole = '0', frac = ''] = t.split('.');
  const bp = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return bp <= FULL ? bp : undefined;
}

/** An even split over `variants`; the remainder goes one basis point each to the first ones. */
export function evenSplit(variants: readonly string[]): Weight[] {
  if (variants.length === 0) return [];
  const base = Math.floor(FULL / variants.length);
  const rest = FULL - base * variants.length;
  return variants.map((variant, i) => ({ variant, weight: base + (i < rest ? 1 : 0) }));
}

/** The weights with entry `i` set to `weight` (clamped to 0..=10000), others unchanged. */
export function setWeight(weights: readonly Weight[], i: number, weight: number): Weight[] {
  const w = Math.max(0, Math.min(FULL, Math.round(weight)));
  return weights.map((x, j) => (j === i ? { ...x, weight: w } : x));
}

/**
 * The weights with entry `i` taking whatever the others leave (so the total is 10000), or
 * unchanged when the others already exceed 10000.
 */
export function fillRemainder(weights: readonly Weight[], i: number): Weight[] {
  const others = total(weights) - (weights[i]?.weight ?? 0);
  if (others > FULL) return [...weights];
  return setWeight(weights, i, FULL - others);
}

/** One segment of the bar: where it starts and how wide it is, in percent of the bar. */
export interface BarSegment extends Weight {
  /** Left edge, percent of the bar. */
  start: number;
  /** Width, percent of the bar. */
  width: number;
}

/**
 * The bar's segments: each weight's share of the bar. Over 100 % the bar is scaled to fit (and
 * the editor says the total is wrong); under 100 % the rest of the bar stays empty.
 */
export function barSegments(weights: readonly Weight[]): BarSegment[] {
  const scale = Math.max(total(weights), FULL);
  let start = 0;
  return weights.map((w) => {
    const width = (w.weight / scale) * 100;
    const seg = { ...w, start, width };
    start += width;
    return seg;
  });
}

/** What is wrong with the total, for the editor: empty when it is exactly 100 %. */
export function totalMessage(weights: readonly Weight[]): string {
  const t = total(weights);
  if (t === FULL) return '';
  return t < FULL
    ? `Weights total ${toPercent(t)} %: ${toPercent(FULL - t)} % left to assign`
    : `Weights total ${toPercent(t)} %: ${toPercent(t - FULL)} % too much`;
}
