// A flag's rules in order (first match wins): each with its id, condition and what it serves.
// Reordered by mouse (drag a rule's handle onto another rule: the upper half drops before it,
// the lower half after) or by keyboard (Alt+ArrowUp/Down on the handle, or the ↑/↓ buttons);
// every move is announced and keeps the focus on the control that moved the rule.
import { type DragEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import type { Rule, Serve } from '../api/client';
import { dropIndex, keyStep, moveAnnouncement, moveItem } from '../model/reorder';
import { ConditionBuilder } from './ConditionBuilder';
import { ServeEditor } from './ServeEditor';

/** Props of [`RulesEditor`]. */
export interface RulesEditorProps {
  /** The rules in order. */
  value: Rule[];
  /** Variant names, for what a rule serves. */
  variants: string[];
  /** Segment keys, for conditions. */
  segments: string[];
  /** Read-only. */
  disabled?: boolean;
  /** Index of a rule the server named in an error, and its message. */
  fieldError?: { index: number; message: string };
  /** Called with the new rules. */
  onChange(r: Rule[]): void;
}

/** Which control of which rule gets the focus back after a move. */
type Refocus = { id: string; control: 'handle' | 'up' | 'down' };

/** Where a dragged rule would land, shown as a line before or after the rule under the pointer. */
type DropMark = { over: number; before: boolean };

function nextRuleId(rules: Rule[]): string {
  for (let i = rules.length + 1; ; i++) {
    const id = `rule-${i}`;
    if (!rules.some((r) => r.id === id)) return id;
  }
}

/** Edits and reorders the rules. */
export function RulesEditor(props: RulesEditorProps) {
  const { value: rules, onChange } = props;
  const list = useRef<HTMLOListElement>(null);
  const [dragged, setDragged] = useState<number | null>(null);
  const [mark, setMark] = useState<DropMark | null>(null);
  const [refocus, setRefocus] = useState<Refocus | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const setAt = (i: number, r: Rule) => onChange(rules.map((x, j) => (j === i ? r : x)));

  const move = (from: number, to: number, control: Refocus['control']) => {
    const next = moveItem(rules, from, to);
    const rule = rules[from];
    if (next === rules || !rule) return;
    onChange([...next]);
    const at = next.indexOf(rule);
    setAnnouncement(moveAnnouncement(`Rule ${rule.id}`, at, next.length));
    // A button that is disabled at its new place (↑ at the top) hands the focus to the handle.
    const stuck = (control === 'up' && at === 0) || (control === 'down' && at === next.length - 1);
    setRefocus({ id: rule.id, control: stuck ? 'handle' : control });
  };

  useEffect(() => {
    if (!refocus) return;
    const item = list.current?.querySelector(`[data-rule="${CSS.escape(refocus.id)}"]`);
    item?.querySelector<HTMLElement>(`[data-control="${refocus.control}"]`)?.focus();
    setRefocus(null);
  }, [refocus]);

  const onKey = (i: number, e: KeyboardEvent) => {
    const step = keyStep(e);
    if (step === 0) return;
    e.preventDefault();
    move(i, i + step, 'handle');
  };
  const onDragOver = (i: number, e: DragEvent<HTMLLIElement>) => {
    if (dragged === null) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const box = e.currentTarget.getBoundingClientRect();
    const before = e.clientY < box.top + box.height / 2;
    if (mark?.over !== i || mark.before !== before) setMark({ over: i, before });
  };
  const onDrop = (e: DragEvent<HTMLLIElement>) => {
    e.preventDefault();
    if (dragged !== null && mark) move(dragged, dropIndex(dragged, mark.over, mark.before), 'handle');
    setDragged(null);
    setMark(null);
  };

  return (
    <>
      <ol className="rules" ref={list}>
        {rules.map((r, i) => (
          <li
            key={r.id}
            className="rule"
            aria-label={`Rule ${r.id}`}
            data-rule={r.id}
            data-dragging={dragged === i || undefined}
            data-drop={mark?.over === i && dragged !== null ? (mark.before ? 'before' : 'after') : undefined}
            onDragOver={(e) => onDragOver(i, e)}
            onDrop={onDrop}
          >
            <div className="rule-head">
              <span className="rule-title">
                {!props.disabled && (
                  <button
                    type="button"
                    className="small handle"
                    data-control="handle"
                    draggable
                    aria-label={`Reorder rule ${r.id}`}
                    aria-keyshortcuts="Alt+ArrowUp Alt+ArrowDown"
                    aria-describedby="rules-reorder-help"
                    onKeyDown={(e) => onKey(i, e)}
                    onDragStart={(e) => {
                      e.dataTransfer.effectAllowed = 'move';
                      e.dataTransfer.setData('text/plain', r.id);
                      const li = e.currentTarget.closest('li');
                      if (li) e.dataTransfer.setDragImage(li, 16, 16);
                      setDragged(i);
                    }}
                    onDragEnd={() => {
                      setDragged(null);
                      setMark(null);
                    }}
                  >
                    <span aria-hidden="true">⠿</span>
                  </button>
                )}
                <label className="inline">
                  Rule
                  <input
                    className="rule-id"
                    aria-label="Rule id"
                    disabled={props.disabled}
                    defaultValue={r.id}
                    onBlur={(e) =>
                      e.target.value && e.target.value !== r.id && setAt(i, { ...r, id: e.target.value })
                    }
                  />
                </label>
              </span>
              {!props.disabled && (
                <span className="node-tools">
                  <button
                    type="button"
                    className="small"
                    data-control="up"
                    aria-label={`Move rule ${r.id} up`}
                    disabled={i === 0}
                    onKeyDown={(e) => onKey(i, e)}
                    onClick={() => move(i, i - 1, 'up')}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="small"
                    data-control="down"
                    aria-label={`Move rule ${r.id} down`}
                    disabled={i === rules.length - 1}
                    onKeyDown={(e) => onKey(i, e)}
                    onClick={() => move(i, i + 1, 'down')}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="small danger"
                    aria-label={`Remove rule ${r.id}`}
                    onClick={() => onChange(rules.filter((_, j) => j !== i))}
                  >
                    Remove
                  </button>
                </span>
              )}
            </div>
            {props.fieldError?.index === i && (
              <p className="error" role="alert">
                {props.fieldError.message}
              </p>
            )}
            <ConditionBuilder
              label={`Rule ${r.id}`}
              value={r.when}
              segments={props.segments}
              disabled={props.disabled}
              onChange={(when) => setAt(i, { ...r, when })}
            />
            <ServeEditor
              label={`Rule ${r.id}`}
              value={r.serve}
              variants={props.variants}
              disabled={props.disabled}
              onChange={(serve: Serve) => setAt(i, { ...r, serve })}
            />
          </li>
        ))}
        {!props.disabled && (
          <li className="add-rule">
            <button
              type="button"
              onClick={() =>
                onChange([
                  ...rules,
                  { id: nextRuleId(rules), when: { all: [] }, serve: { variant: props.variants[0] ?? '' } },
                ])
              }
            >
              + Rule
            </button>
          </li>
        )}
      </ol>
      {!props.disabled && rules.length > 0 && (
        <p id="rules-reorder-help" className="muted hint">
          Drag a rule by its handle ⠿ to reorder, or focus the handle and press Alt+↑ or Alt+↓.
        </p>
      )}
      <p className="sr-only" aria-live="polite">
        {announcement}
      </p>
    </>
  );
}
