// Bulk enable/disable on the flag list: which selected flags need a write in an environment,
// and running those writes a few at a time while collecting each flag's outcome (a failure of
// one does not stop the others). Pure apart from the `write` it is given; unit-tested.
import type { EnvTargeting, Flag } from '../api/client';

/** One write of a bulk change: a flag's targeting as read (its revision is the If-Match). */
export interface BulkWrite {
  /** Flag key. */
  key: string;
  /** The targeting as read in the environment. */
  targeting: EnvTargeting;
}

/** What a bulk change would do. */
export interface BulkPlan {
  /** Flags to write. */
  writes: BulkWrite[];
  /** Selected flags already in the wanted state (nothing to write). */
  unchanged: string[];
  /** Selected flags with no targeting in the environment (or no longer loaded). */
  missing: string[];
}

/** The writes that turn every selected flag `enabled` in `env`, in the list's order. */
export function planBulk(
  flags: readonly Flag[],
  selected: ReadonlySet<string>,
  env: string,
  enabled: boolean,
) {
  const plan: BulkPlan = { writes: [], unchanged: [], missing: [] };
  const loaded = new Set<string>();
  for (const f of flags) {
    if (!selected.has(f.key)) continue;
    loaded.add(f.key);
    const t = f.environments?.[env];
    if (!t) plan.missing.push(f.key);
    else if (t.enabled === enabled) plan.unchanged.push(f.key);
    else plan.writes.push({ key: f.key, targeting: t });
  }
  for (const key of selected) if (!loaded.has(key)) plan.missing.push(key);
  return plan;
}

/** The outcome of one flag's write. */
export type BulkOutcome = { key: string; ok: true } | { key: string; ok: false; error: unknown };

/**
 * Runs `write` for every item, at most `concurrency` at a time, and resolves with each item's
 * outcome in the items' order (it never rejects). `onDone` hears of each outcome as it comes.
 */
export async function runBulk<T extends { key: string }>(
  items: readonly T[],
  write: (item: T) => Promise<unknown>,
  concurrency = 4,
  onDone?: (outcome: BulkOutcome) => void,
): Promise<BulkOutcome[]> {
  const out: BulkOutcome[] = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      const item = items[i];
      if (!item) continue;
      let outcome: BulkOutcome;
      try {
        await write(item);
        outcome = { key: item.key, ok: true };
      } catch (error) {
        outcome = { key: item.key, ok: false, error };
      }
      out[i] = outcome;
      onDone?.(outcome);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/** The state of a select-all checkbox over `shown` keys: all, none or some of them selected. */
export function selectionState(
  shown: readonly string[],
  selected: ReadonlySet<string>,
): 'all' | 'none' | 'some' {
  let n = 0;
  for (const k of shown) if (selected.has(k)) n++;
  if (n === 0) return 'none';
  return n === shown.length ? 'all' : 'some';
}

/** `selected` with every `shown` key added (`on`) or removed. */
export function selectShown(
  selected: ReadonlySet<string>,
  shown: readonly string[],
  on: boolean,
): Set<string> {
  const next = new Set(selected);
  for (const k of shown) {
    if (on) next.add(k);
    else next.delete(k);
  }
  return next;
}
