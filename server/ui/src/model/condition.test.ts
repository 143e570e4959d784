import { expect, describe as group, it } from 'vitest';
import {
  addChild,
  type Clause,
  type Condition,
  clauseErrors,
  describe,
  formatOperand,
  moveAt,
  nodeAt,
  OPERATORS,
  parseOperand,
  removeAt,
  switchGroup,
  toggleNot,
  treeErrors,
  updateAt,
  withOperator,
} from './condition';

const country: Clause = { attribute: 'country', op: 'in', values: ['DE', 'AT'] };
const beta: Clause = { attribute: 'beta', op: 'equals', value: true };

group('operators', () => {
  it('lists every operator of the snapshot schema once', () => {
    const ops = OPERATORS.map((o) => o.op);
    expect(new Set(ops).size).toBe(ops.length);
    expect(ops).toHaveLength(21);
  });
});

group('withOperator', () => {
  it('turns a list into a single value and back', () => {
    const one = withOperator(country, 'equals');
    expect(one).toEqual({ attribute: 'country', op: 'equals', value: 'DE' });
    expect(withOperator(one, 'not_in')).toEqual({ attribute: 'country', op: 'not_in', values: ['DE'] });
  });
  it('makes numbers for comparisons and drops the attribute for segments', () => {
    expect(withOperator({ attribute: 'age', op: 'equals', value: '18' }, 'gte')).toEqual({
      attribute: 'age',
      op: 'gte',
      value: 18,
    });
    expect(withOperator(country, 'in_segment')).toEqual({ op: 'in_segment', values: ['DE', 'AT'] });
  });
  it('keeps ignore_case only where allowed, and exists has no operand', () => {
    const c: Clause = { attribute: 'email', op: 'ends_with', values: ['@x.io'], ignore_case: true };
    expect(withOperator(c, 'contains').ignore_case).toBe(true);
    expect(withOperator(c, 'matches')).toEqual({ attribute: 'email', op: 'matches', value: '@x.io' });
    expect(withOperator(c, 'exists')).toEqual({ attribute: 'email', op: 'exists' });
  });
});

group('operands', () => {
  it('reads typed scalars and round-trips them', () => {
    expect(parseOperand('42', 'scalar')).toBe(42);
    expect(parseOperand('true', 'scalar')).toBe(true);
    expect(parseOperand('"42"', 'scalar')).toBe('42');
    expect(parseOperand('DE', 'scalar')).toBe('DE');
    expect(parseOperand('42', 'string')).toBe('42');
    expect(Number.isNaN(parseOperand('x', 'number'))).toBe(true);
    for (const v of ['42', 'true', 'DE', 7, false] as const) {
      expect(parseOperand(formatOperand(v, 'scalar'), 'scalar')).toBe(v);
    }
  });
});

group('clauseErrors', () => {
  it('accepts good clauses', () => {
    expect(clauseErrors(country)).toEqual([]);
    expect(clauseErrors({ attribute: 'v', op: 'semver_gte', value: '1.2.3-beta.1' })).toEqual([]);
    expect(clauseErrors({ attribute: '$now', op: 'after', value: '2030-01-01T00:00:00Z' })).toEqual([]);
    expect(clauseErrors({ op: 'in_segment', values: ['staff'] }, ['staff'])).toEqual([]);
  });
  it('names what is wrong', () => {
    expect(clauseErrors({ attribute: '', op: 'exists' })).toEqual(['attribute is required']);
    expect(clauseErrors({ attribute: '$env', op: 'exists' })).toEqual(['attribute $env is reserved']);
    expect(clauseErrors({ attribute: 'v', op: 'semver_lt', value: '1.2' })[0]).toMatch(/SemVer/);
    expect(clauseErrors({ attribute: 'e', op: 'matches', value: '([a-z' })[0]).toMatch(/invalid regex/);
    expect(clauseErrors({ attribute: 'a', op: 'gt', value: Number.NaN })[0]).toMatch(/not a number/);
    expect(clauseErrors({ attribute: 'd', op: 'before', value: 'tomorrow' })[0]).toMatch(/RFC 3339/);
    expect(clauseErrors({ attribute: 'c', op: 'in', values: [] })).toEqual(['add at least one value']);
    expect(clauseErrors({ op: 'in_segment', values: ['gone'] }, ['staff'])).toEqual(['no segment gone']);
  });
});

group('tree edits', () => {
  const tree: Condition = { all: [country, { not: beta }, { any: [] }] };
  it('adds, updates, moves and removes by path', () => {
    const added = addChild(tree, [2], beta);
    expect(nodeAt(added, [2, 0])).toEqual(beta);
    const updated = updateAt(added, [1, 0], () => ({ ...beta, value: false }));
    expect(nodeAt(updated, [1])).toEqual({ not: { ...beta, value: false } });
    const moved = moveAt(updated, [2], -2);
    expect(childrenKinds(moved)).toEqual(['any', 'clause', 'not']);
    expect(moveAt(moved, [0], -1)).toEqual(moved);
    // Removing the child of a `not` removes the `not` too.
    expect(removeAt(tree, [1, 0])).toEqual({ all: [country, { any: [] }] });
    expect(removeAt(tree, [])).toEqual({ all: [] });
    // The original is untouched.
    expect(tree).toEqual({ all: [country, { not: beta }, { any: [] }] });
  });
  it('switches groups and toggles not', () => {
    expect(switchGroup(tree, 'any')).toEqual({ any: tree.all });
    expect(toggleNot(toggleNot(country))).toEqual(country);
  });
  it('collects errors with their paths', () => {
    const bad: Condition = { any: [country, { not: { attribute: '', op: 'exists' } }] };
    expect(treeErrors(bad)).toEqual([{ path: [1, 0], message: 'attribute is required' }]);
  });
  it('reads as a sentence', () => {
    expect(describe(tree)).toBe('country is one of DE, AT and not (beta equals true) and no one');
    expect(describe({ all: [] })).toBe('everyone');
  });
});

function childrenKinds(c: Condition): string[] {
  return ('all' in c ? c.all : []).map((x) =>
    'all' in x ? 'all' : 'any' in x ? 'any' : 'not' in x ? 'not' : 'clause',
  );
}
