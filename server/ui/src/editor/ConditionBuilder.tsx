// The condition builder: a tree of all / any / not groups and clauses, for every operator of
// spec/SNAPSHOT.md §3.1 and segments. Every edit goes through the pure functions of
// src/model/condition.ts; each node can be moved up and down with buttons (keyboard and mouse).
import { useState } from 'react';
import {
  addChild,
  type Clause,
  type Condition,
  clauseErrors,
  formatOperand,
  kindOf,
  moveAt,
  newClause,
  OPERATORS,
  type OperandType,
  operatorInfo,
  parseOperand,
  removeAt,
  switchGroup,
  type TreePath,
  toggleNot,
  updateAt,
  withOperator,
} from '../model/condition';

/** Props of [`ConditionBuilder`]. */
export interface ConditionBuilderProps {
  /** The condition (the root is usually an `all` group). */
  value: Condition;
  /** Called with the edited tree. */
  onChange(c: Condition): void;
  /** Segment keys of the environment, for `in_segment`. */
  segments: string[];
  /** Read-only. */
  disabled?: boolean;
  /** Accessible name of the whole tree, e.g. "Rule beta". */
  label: string;
  /** Offer no `in_segment` (segment rules may not use it). */
  noSegments?: boolean;
}

interface NodeProps {
  root: Condition;
  path: TreePath;
  node: Condition;
  siblings: number;
  ctx: ConditionBuilderProps;
}

/** Edits a condition tree. */
export function ConditionBuilder(props: ConditionBuilderProps) {
  return (
    <fieldset className="condition">
      <legend className="sr-only">{`${props.label}: condition`}</legend>
      <Node root={props.value} path={[]} node={props.value} siblings={1} ctx={props} />
      {!props.disabled && (kindOf(props.value) === 'clause' || kindOf(props.value) === 'not') && (
        <div className="node-add">
          <button
            type="button"
            className="small"
            onClick={() => props.onChange({ all: [props.value, newClause()] })}
          >
            + Condition (all of)
          </button>
        </div>
      )}
    </fieldset>
  );
}

function NodeTools({ root, path, siblings, ctx }: Omit<NodeProps, 'node'>) {
  if (path.length === 0 || ctx.disabled) return null;
  const i = path[path.length - 1] ?? 0;
  const at = (f: (c: Condition) => Condition) => ctx.onChange(f(root));
  return (
    <span className="node-tools">
      <button
        type="button"
        className="small"
        aria-label="Move up"
        disabled={i === 0}
        onClick={() => at((r) => moveAt(r, path, -1))}
      >
        ↑
      </button>
      <button
        type="button"
        className="small"
        aria-label="Move down"
        disabled={i >= siblings - 1}
        onClick={() => at((r) => moveAt(r, path, 1))}
      >
        ↓
      </button>
      <button type="button" className="small" onClick={() => at((r) => updateAt(r, path, toggleNot))}>
        Not
      </button>
      <button
        type="button"
        className="small danger"
        aria-label="Remove"
        onClick={() => at((r) => removeAt(r, path))}
      >
        ✕
      </button>
    </span>
  );
}

function Node(props: NodeProps) {
  const { root, path, node, ctx } = props;
  const kind = kindOf(node);
  if (kind === 'clause') return <ClauseRow {...props} clause={node as Clause} />;
  if (kind === 'not') {
    const child = (node as { not: Condition }).not;
    return (
      <div className="node not">
        <div className="node-head">
          <span className="keyword">NOT</span>
          <NodeTools {...props} />
        </div>
        <Node root={root} path={[...path, 0]} node={child} siblings={1} ctx={ctx} />
      </div>
    );
  }
  const kids = 'all' in node ? node.all : 'any' in node ? node.any : [];
  const change = (f: (c: Condition) => Condition) => ctx.onChange(f(root));
  return (
    <div className={`node group ${kind}`}>
      <div className="node-head">
        <select
          aria-label="Match"
          value={kind}
          disabled={ctx.disabled}
          onChange={(e) =>
            change((r) => updateAt(r, path, (g) => switchGroup(g, e.target.value as 'all' | 'any')))
          }
        >
          <option value="all">All of</option>
          <option value="any">Any of</option>
        </select>
        {kids.length === 0 && (
          <span className="muted">{kind === 'all' ? '(matches everyone)' : '(matches no one)'}</span>
        )}
        <NodeTools {...props} />
      </div>
      <ul>
        {kids.map((child, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a child's identity is its position in the tree
          <li key={i}>
            <Node root={root} path={[...path, i]} node={child} siblings={kids.length} ctx={ctx} />
          </li>
        ))}
      </ul>
      {!ctx.disabled && (
        <div className="node-add">
          <button
            type="button"
            className="small"
            onClick={() => change((r) => addChild(r, path, newClause()))}
          >
            + Condition
          </button>
          <button
            type="button"
            className="small"
            onClick={() => change((r) => addChild(r, path, { any: [] }))}
          >
            + Group
          </button>
          {!ctx.noSegments && (
            <button
              type="button"
              className="small"
              onClick={() =>
                change((r) => addChild(r, path, { op: 'in_segment', values: ctx.segments.slice(0, 1) }))
              }
            >
              + Segment
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function OperandInput(props: {
  value: string;
  label: string;
  disabled?: boolean;
  invalid: boolean;
  onText(text: string): void;
}) {
  const [text, setText] = useState(props.value);
  return (
    <input
      className="operand"
      aria-label={props.label}
      aria-invalid={props.invalid}
      disabled={props.disabled}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        props.onText(e.target.value);
      }}
    />
  );
}

function splitList(text: string, type: OperandType) {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => parseOperand(s, type));
}

function ClauseRow(props: NodeProps & { clause: Clause }) {
  const { root, path, clause, ctx } = props;
  const op = operatorInfo(clause.op);
  const errors = clauseErrors(clause, ctx.segments);
  const set = (next: Clause) => ctx.onChange(updateAt(root, path, () => next));
  const opKey = `${path.join('.')}-${clause.op}`;
  return (
    <div className="node clause" data-invalid={errors.length > 0 || undefined}>
      <div className="clause-fields">
        {op.arity !== 'segments' && (
          <input
            className="attribute"
            aria-label="Attribute"
            placeholder="attribute, e.g. country"
            list="burgee-attributes"
            disabled={ctx.disabled}
            value={clause.attribute ?? ''}
            onChange={(e) => set({ ...clause, attribute: e.target.value })}
          />
        )}
        <select
          aria-label="Operator"
          value={clause.op}
          disabled={ctx.disabled}
          onChange={(e) => set(withOperator(clause, e.target.value as Clause['op']))}
        >
          {OPERATORS.filter((o) => !ctx.noSegments || o.op !== 'in_segment').map((o) => (
            <option key={o.op} value={o.op}>
              {o.label}
            </option>
          ))}
        </select>
        {op.arity === 'value' && (
          <OperandInput
            key={opKey}
            label="Value"
            disabled={ctx.disabled}
            invalid={errors.length > 0}
            value={clause.value === undefined ? '' : formatOperand(clause.value, op.type)}
            onText={(t) => set({ ...clause, value: parseOperand(t, op.type) })}
          />
        )}
        {op.arity === 'values' && (
          <OperandInput
            key={opKey}
            label="Values, separated by commas"
            disabled={ctx.disabled}
            invalid={errors.length > 0}
            value={(clause.values ?? []).map((v) => formatOperand(v, op.type)).join(', ')}
            onText={(t) => set({ ...clause, values: splitList(t, op.type) })}
          />
        )}
        {op.arity === 'segments' && (
          <fieldset className="segments-pick">
            <legend>Segments</legend>
            {ctx.segments.length === 0 && <span className="muted">No segments in this environment</span>}
            {ctx.segments.map((s) => {
              const on = (clause.values ?? []).includes(s);
              return (
                <label key={s} className="inline">
                  <input
                    type="checkbox"
                    checked={on}
                    disabled={ctx.disabled}
                    onChange={() =>
                      set({
                        ...clause,
                        values: on
                          ? (clause.values ?? []).filter((v) => v !== s)
                          : [...(clause.values ?? []), s],
                      })
                    }
                  />
                  {s}
                </label>
              );
            })}
          </fieldset>
        )}
        {op.ignoreCase && (
          <label className="inline">
            <input
              type="checkbox"
              disabled={ctx.disabled}
              checked={clause.ignore_case ?? false}
              onChange={(e) => set({ ...clause, ignore_case: e.target.checked || undefined })}
            />
            ignore case
          </label>
        )}
        {op.arity !== 'segments' && op.arity !== 'none' && (
          <label className="inline" title="Operands travel as salted digests in client snapshots">
            <input
              type="checkbox"
              disabled={ctx.disabled}
              checked={clause.sensitive ?? false}
              onChange={(e) => set({ ...clause, sensitive: e.target.checked || undefined })}
            />
            sensitive
          </label>
        )}
        <NodeTools {...props} />
      </div>
      {errors.length > 0 && (
        <ul className="field-errors">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
