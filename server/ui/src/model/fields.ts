// Where a server error's `field` (a 422's path) belongs in the flag editor.

/** Where in the editor a server error's `field` points. */
export interface FieldPlace {
  /** Section: rules, default, targets, prerequisites, off_variant, variants, or other. */
  section: string;
  /** The rule's index, for rules. */
  rule?: number;
}

/**
 * Reads the `field` of a 422 (`flags[checkout].rules[beta].when.all[1]`, `rules[0].serve`,
 * `variants.big.limit`, …) into the editor section it names.
 */
export function placeOf(field: string | undefined, rules: { id: string }[]): FieldPlace | undefined {
  if (!field) return undefined;
  const rest = field.replace(/^flags\[[^\]]*\]\.?/, '');
  const rule = /^rules\[([^\]]*)\]/.exec(rest);
  if (rule) {
    const id = rule[1] ?? '';
    const byId = rules.findIndex((r) => r.id === id);
    return { section: 'rules', rule: byId >= 0 ? byId : Number(id) };
  }
  const section = /^[a-z_]+/.exec(rest)?.[0] ?? 'other';
  return { section };
}
