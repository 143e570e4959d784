// The condition builder's model: pure functions over the API's condition tree
// (`SnapshotCondition`: all / any / not / clause, spec/SNAPSHOT.md §2.2 and §3.1). The editor
// (src/editor/ConditionBuilder.tsx) only renders these and calls them; the unit tests
// (condition.test.ts) pin their behaviour.
import type { components } from '../api/schema';

/** A condition: `{all: [...]}`, `{any: [...]}`, `{not: c}` or a clause. */
export type Condition = components['schemas']['SnapshotCondition'];
/** A clause `{attribute, op, value | values, ignore_case?, sensitive?}`. */
export type Clause = components['schemas']['SnapshotClause'];
/** A clause operator. */
export type Operator = Clause['op'];
/** A clause operand: string, number or boolean. */
export type Scalar = components['schemas']['SnapshotScalar'];
/** Which of the four forms a condition has. */
export type Kind = 'all' | 'any' | 'not' | 'clause';
/** A position in the tree: child indices from the root (`not` has the one child 0). */
export type TreePath = readonly number[];

/** What an operator takes: one `value`, a list of `values`, segment keys, or nothing. */
export type Arity = 'value' | 'values' | 'segments' | 'none';
/** How an operand is typed in. */
export type OperandType = 'scalar' | 'string' | 'number' | 'regex' | 'semver' | 'date';

/** One operator's description for the builder. */
export interface OperatorInfo {
  /** The operator. */
  op: Operator;
  /** Short human label. */
  label: string;
  /** Operand shape. */
  arity: Arity;
  /** Operand type. */
  type: OperandType;
  /** Whether `ignore_case` is allowed. */
  ignoreCase: boolean;
}

const info = (op: Operator, label: string, arity: Arity, type: OperandType, ignoreCase = false) => ({
  op,
  label,
  arity,
  type,
  ignoreCase,
});

/** Every operator of spec/SNAPSHOT.md §3.1, in the order the builder lists them. */
export const OPERATORS: readonly OperatorInfo[] = [
  info('equals', 'equals', 'value', 'scalar', true),
  info('not_equals', 'does not equal', 'value', 'scalar', true),
  info('in', 'is one of', 'values', 'scalar', true),
  info('not_in', 'is not one of', 'values', 'scalar', true),
  info('contains', 'contains', 'values', 'string', true),
  info('starts_with', 'starts with', 'values', 'string', true),
  info('ends_with', 'ends with', 'values', 'string', true),
  info('matches', 'matches regex', 'value', 'regex'),
  info('lt', '<', 'value', 'number'),
  info('lte', '≤', 'value', 'number'),
  info('gt', '>', 'value', 'number'),
  info('gte', '≥', 'value', 'number'),
  info('semver_eq', 'version =', 'value', 'semver'),
  info('semver_lt', 'version <', 'value', 'semver'),
  info('semver_lte', 'version ≤', 'value', 'semver'),
  info('semver_gt', 'version >', 'value', 'semver'),
  info('semver_gte', 'version ≥', 'value', 'semver'),
  info('before', 'is before', 'value', 'date'),
  info('after', 'is after', 'value', 'date'),
  info('exists', 'exists', 'none', 'string'),
  info('in_segment', 'is in segment', 'segments', 'string'),
];

/** The description of `op`. */
export function operatorInfo(op: Operator): OperatorInfo {
  const found = OPERATORS.find((o) => o.op === op);
  if (!found) throw new Error(`unknown operator ${op}`);
  return found;
}

/** Which form `c` has. */
export function kindOf(c: Condition): Kind {
  if ('all' in c) return 'all';
  if ('any' in c) return 'any';
  if ('not' in c) return 'not';
  return 'clause';
}

/** The children of a group (`all`/`any`), the one child of `not`, none for a clause. */
export function childrenOf(c: Condition): Condition[] {
  if ('all' in c) return c.all;
  if ('any' in c) return c.any;
  if ('not' in c) return [c.not];
  return [];
}

/** A new clause for the builder: `attribute equals ""`. */
export function newClause(attribute = ''): Clause {
  return { attribute, op: 'equals', value: '' };
}

/**
 * The clause with operator `op`, its operands carried over where the shapes allow: a single
 * value becomes a one-element list and back, `in_segment` drops the attribute, and
 * `ignore_case` is kept only where the operator takes it.
 */
export function withOperator(clause: Clause, op: Operator): Clause {
  const next = operatorInfo(op);
  const operands = clause.values ?? (clause.value === undefined ? [] : [clause.value]);
  const out: Clause = { op };
  if (next.arity !== 'segments') out.attribute = clause.attribute ?? '';
  if (next.arity === 'value') out.value = coerce(operands[0] ?? '', next.type);
  if (next.arity === 'values' || next.arity === 'segments') {
    out.values = operands.map((v) => coerce(v, next.arity === 'segments' ? 'string' : next.type));
  }
  if (next.ignoreCase && clause.ignore_case) out.ignore_case = true;
  if (clause.sensitive && next.arity !== 'segments' && next.arity !== 'none') out.sensitive = true;
  return out;
}

function coerce(v: Scalar, type: OperandType): Scalar {
  if (type === 'number') {
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isFinite(n) && String(v).trim() !== '' ? n : 0;
  }
  if (type === 'scalar') return v;
  return String(v);
}

/**
 * Reads an operand typed into a text box. `scalar` operands are JSON-ish: `42` is a number,
 * `true`/`false` booleans, `"42"` (quoted) the string 42, anything else a string as typed.
 * `number` operands become numbers (`NaN` when not one; see [`clauseErrors`]).
 */
export function parseOperand(text: string, type: OperandType): Scalar {
  const t = text.trim();
  if (type === 'number') return t === '' ? Number.NaN : Number(t);
  if (type !== 'scalar') return text;
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t !== '' && /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1);
  return text;
}

/** The text box form of an operand (the inverse of [`parseOperand`]). */
export function formatOperand(v: Scalar, type: OperandType): string {
  if (type === 'scalar' && typeof v === 'string') {
    const looksTyped = v === 'true' || v === 'false' || (v.trim() !== '' && !Number.isNaN(Number(v)));
    return looksTyped ? `"${v}"` : v;
  }
  return String(v);
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Problems the builder can see before the server does (the server's compile is the judge):
 * a missing attribute, a reserved `$` attribute, an empty list, a number that is not one, an
 * invalid regex (JavaScript's syntax, close to Rust's for common patterns), SemVer or date, and
 * segments that do not exist (when `segments` is given).
 */
export function clauseErrors(clause: Clause, segments?: readonly string[]): string[] {
  const op = operatorInfo(clause.op);
  const errors: string[] = [];
  if (op.arity !== 'segments') {
    const a = clause.attribute ?? '';
    if (a.trim() === '') errors.push('attribute is required');
    else if (a.startsWith('$') && a !== '$now') errors.push(`attribute ${a} is reserved`);
  }
  const operands = op.arity === 'value' ? [clause.value] : op.arity === 'none' ? [] : (clause.values ?? []);
  if ((op.arity === 'values' || op.arity === 'segments') && operands.length === 0) {
    errors.push(op.arity === 'segments' ? 'choose at least one segment' : 'add at least one value');
  }
  for (const v of operands) {
    if (v === undefined) errors.push('a value is required');
    else if (op.type === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) {
      errors.push(`${String(v)} is not a number`);
    } else if (op.type === 'regex') {
      try {
        new RegExp(String(v), 'u');
      } catch {
        errors.push(`invalid regex ${String(v)}`);
      }
    } else if (op.type === 'semver' && !SEMVER.test(String(v))) {
      errors.push(`${String(v)} is not a SemVer 2.0.0 version (e.g. 1.2.3)`);
    } else if (op.type === 'date' && !isDate(v)) {
      errors.push(`${String(v)} is neither ms since the epoch nor an RFC 3339 time`);
    } else if (op.arity === 'segments' && segments && !segments.includes(String(v))) {
      errors.push(`no segment ${String(v)}`);
    }
  }
  return errors;
}

function isDate(v: Scalar): boolean {
  if (typeof v === 'number') return Number.isInteger(v);
  if (typeof v !== 'string') return false;
  return /^-?\d+$/.test(v) || (RFC3339.test(v) && !Number.isNaN(Date.parse(v)));
}

/** Every problem in the tree, with the path of the clause it belongs to. */
export function treeErrors(
  c: Condition,
  segments?: readonly string[],
  path: TreePath = [],
): { path: TreePath; message: string }[] {
  if (kindOf(c) === 'clause') {
    return clauseErrors(c as Clause, segments).map((message) => ({ path, message }));
  }
  return childrenOf(c).flatMap((child, i) => treeErrors(child, segments, [...path, i]));
}

/** The node at `path`, or undefined. */
export function nodeAt(root: Condition, path: TreePath): Condition | undefined {
  let node: Condition | undefined = root;
  for (const i of path) node = node ? childrenOf(node)[i] : undefined;
  return node;
}

/** A copy of `root` with the node at `path` replaced by `f(node)`. */
export function updateAt(root: Condition, path: TreePath, f: (c: Condition) => Condition): Condition {
  if (path.length === 0) return f(root);
  const [i, ...rest] = path as [number, ...number[]];
  const kids = childrenOf(root).map((child, j) => (j === i ? updateAt(child, rest, f) : child));
  return rebuild(root, kids);
}

function rebuild(c: Condition, kids: Condition[]): Condition {
  if ('all' in c) return { all: kids };
  if ('any' in c) return { any: kids };
  if ('not' in c) return { not: kids[0] ?? { all: [] } };
  return c;
}

/** A copy of `root` with `child` appended to the group at `path`. */
export function addChild(root: Condition, path: TreePath, child: Condition): Condition {
  return updateAt(root, path, (g) => {
    const k = kindOf(g);
    if (k !== 'all' && k !== 'any') throw new Error('children are added to all/any groups');
    return rebuild(g, [...childrenOf(g), child]);
  });
}

/**
 * A copy of `root` without the node at `path`. Removing the child of a `not` removes the
 * `not`; the root itself cannot be removed (it becomes an empty `all`, which matches).
 */
export function removeAt(root: Condition, path: TreePath): Condition {
  if (path.length === 0) return { all: [] };
  const parentPath = path.slice(0, -1);
  const i = path[path.length - 1];
  const parent = nodeAt(root, parentPath);
  if (parent && kindOf(parent) === 'not') return removeAt(root, parentPath);
  return updateAt(root, parentPath, (g) =>
    rebuild(
      g,
      childrenOf(g).filter((_, j) => j !== i),
    ),
  );
}

/** A copy of `root` with the child at `path` moved by `delta` places among its siblings. */
export function moveAt(root: Condition, path: TreePath, delta: number): Condition {
  if (path.length === 0) return root;
  const parentPath = path.slice(0, -1);
  const i = path[path.length - 1] ?? 0;
  return updateAt(root, parentPath, (g) => {
    const kids = [...childrenOf(g)];
    const j = i + delta;
    if (j < 0 || j >= kids.length || kindOf(g) === 'not') return g;
    const [moved] = kids.splice(i, 1);
    if (moved) kids.splice(j, 0, moved);
    return rebuild(g, kids);
  });
}

/** `c` wrapped in `not` (or unwrapped when it is already a `not`). */
export function toggleNot(c: Condition): Condition {
  return 'not' in c ? c.not : { not: c };
}

/** A group switched between `all` and `any` (children kept). */
export function switchGroup(c: Condition, to: 'all' | 'any'): Condition {
  const kids = childrenOf(c);
  return to === 'all' ? { all: kids } : { any: kids };
}

/** A one-line human reading of a condition, e.g. `country is one of DE, AT and not beta`. */
export function describe(c: Condition): string {
  const k = kindOf(c);
  if (k === 'not') return `not (${describe((c as { not: Condition }).not)})`;
  if (k === 'all' || k === 'any') {
    const kids = childrenOf(c);
    if (kids.length === 0) return k === 'all' ? 'everyone' : 'no one';
    const parts = kids.map((x) => (childrenOf(x).length > 1 ? `(${describe(x)})` : describe(x)));
    return parts.join(k === 'all' ? ' and ' : ' or ');
  }
  const clause = c as Clause;
  const op = operatorInfo(clause.op);
  const operands =
    op.arity === 'value' ? String(clause.value) : op.arity === 'none' ? '' : (clause.values ?? []).join(', ');
  const subject = op.arity === 'segments' ? 'unit' : clause.attribute;
  return [subject, op.label, operands].filter((s) => s !== '').join(' ');
}
