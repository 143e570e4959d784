// Reordering a list (the rules of a flag): by moving one item to another position (drag and
// drop) or one step up or down (buttons, Alt+ArrowUp/Down). Pure functions, unit-tested.

/**
 * `items` with the item at `from` moved to index `to` (both clamped to the list); the same
 * array when nothing moves.
 */
export function moveItem<T>(items: readonly T[], from: number, to: number): readonly T[] {
  const last = items.length - 1;
  if (from < 0 || from > last) return items;
  const target = Math.max(0, Math.min(last, to));
  if (target === from) return items;
  const next = [...items];
  const [item] = next.splice(from, 1);
  if (item !== undefined) next.splice(target, 0, item);
  return next;
}

/**
 * The index a dragged item lands at when dropped on the item at `over`: in the upper half of
 * that item (`before`), it takes `over`'s place moving down from above, or goes just before it;
 * in the lower half, just after it.
 */
export function dropIndex(from: number, over: number, before: boolean): number {
  const slot = before ? over : over + 1; // insertion point in the list with the item still in it
  return slot > from ? slot - 1 : slot;
}

/** The step a key press moves an item by: Alt+ArrowUp −1, Alt+ArrowDown +1, otherwise none. */
export function keyStep(e: { key: string; altKey: boolean }): -1 | 1 | 0 {
  if (!e.altKey) return 0;
  if (e.key === 'ArrowUp') return -1;
  if (e.key === 'ArrowDown') return 1;
  return 0;
}

/** What a screen reader hears after a move: `"rule-2 moved to position 1 of 3"`. */
export function moveAnnouncement(name: string, to: number, count: number): string {
  return `${name} moved to position ${to + 1} of ${count}`;
}
