// The fields of a configuration entry: key (new entries), format, the value as text
// (monospace), the parsed value, an optional JSON Schema, description, secret, and the
// overrides. Problems are shown at their field: the browser's cheap checks as they are typed,
// the server's refusal (line and column, JSON pointer) after a save; a message naming a line
// and column offers to put the caret there.
import { useId, useMemo, useRef } from 'react';
import {
  checkJson,
  type EntryDraft,
  FORMAT_NAMES,
  FORMATS,
  type Format,
  offsetOf,
  type Problems,
  starterValue,
} from '../model/config';
import { FieldProblem, problemProps } from './FieldProblem';
import { OverridesEditor } from './OverridesEditor';

/** Props of [`EntryForm`]. */
export interface EntryFormProps {
  /** The draft. */
  draft: EntryDraft;
  /** Called with the changed draft. */
  onChange(d: EntryDraft): void;
  /** A new entry (its key can be typed). */
  isNew: boolean;
  /** Read-only. */
  disabled: boolean;
  /** Problems by field. */
  problems: Problems;
  /** The entry was a secret when opened: its values are write-only and start empty. */
  secretValues: boolean;
  /** The value as the server parsed it when saved (non-secret entries), and at which revision. */
  saved?: { text: string; parsed: unknown; revision: number } | undefined;
}

/** Lines a text area shows for `text`: between `min` and 24. */
const rows = (text: string, min: number) => Math.min(24, Math.max(min, text.split('\n').length + 1));

/** Moves the caret of `el` to `line`, `column` of its text and scrolls there. */
function locate(el: HTMLTextAreaElement | null, line: number, column: number) {
  if (!el) return;
  const at = offsetOf(el.value, line, column);
  el.focus();
  el.setSelectionRange(at, at);
  const height = el.scrollHeight / Math.max(1, el.value.split('\n').length);
  el.scrollTop = Math.max(0, (line - 3) * height);
}

/** The parsed value of the draft, or where it comes from. */
function Parsed({ draft, saved }: { draft: EntryDraft; saved: EntryFormProps['saved'] }) {
  const json = useMemo(() => (draft.format === 'json' ? checkJson(draft.value) : undefined), [draft]);
  let body: unknown;
  let caption: string;
  if (json?.ok) {
    body = json.value;
    caption = 'Parsed value';
  } else if (json) {
    return null; // the problem is shown at the value
  } else if (saved && saved.text === draft.value) {
    body = saved.parsed;
    caption = `Parsed value (as the server parsed revision ${saved.revision})`;
  } else {
    return (
      <p className="muted parsed-note">
        {FORMAT_NAMES[draft.format]} is parsed by the server when you save; a value that does not parse is
        refused with its line and column, shown here.
      </p>
    );
  }
  return (
    <figure className="parsed">
      <figcaption>{caption}</figcaption>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <pre className="code" tabIndex={0}>
        {JSON.stringify(body, null, 2)}
      </pre>
    </figure>
  );
}

/** Edits an entry's fields. */
export function EntryForm({
  draft,
  onChange,
  isNew,
  disabled,
  problems,
  secretValues,
  saved,
}: EntryFormProps) {
  // Text areas are labelled with `for`: a label around one would take in its text.
  const id = useId();
  const value = useRef<HTMLTextAreaElement>(null);
  const schema = useRef<HTMLTextAreaElement>(null);
  const set = (change: Partial<EntryDraft>) => onChange({ ...draft, ...change });

  function setFormat(format: Format) {
    // A new entry's untouched starter text follows the format.
    const starter = isNew && draft.value === starterValue(draft.format);
    set({ format, ...(starter ? { value: starterValue(format) } : {}) });
  }

  return (
    <>
      <div className="row">
        {isNew && (
          <label>
            Key
            <input
              value={draft.key}
              required
              disabled={disabled}
              pattern="[A-Za-z0-9_.\-]{1,128}"
              placeholder="e.g. db.pool"
              onChange={(e) => set({ key: e.target.value })}
              {...problemProps(problems, 'key')}
            />
          </label>
        )}
        <label>
          Format
          <select
            value={draft.format}
            disabled={disabled}
            onChange={(e) => setFormat(e.target.value as Format)}
          >
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_NAMES[f]}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          Description
          <input
            value={draft.description}
            disabled={disabled}
            onChange={(e) => set({ description: e.target.value })}
          />
        </label>
      </div>
      <FieldProblem problems={problems} field="key" />
      <div className="value-pane">
        <div className="field grow">
          <label htmlFor={`${id}-value`}>Value ({FORMAT_NAMES[draft.format]})</label>
          <textarea
            id={`${id}-value`}
            ref={value}
            className="mono"
            rows={rows(draft.value, 8)}
            spellCheck={false}
            autoCapitalize="off"
            autoCorrect="off"
            wrap="off"
            value={draft.value}
            disabled={disabled}
            placeholder={secretValues ? 'Secret: write-only, enter the value again to change the entry' : ''}
            onChange={(e) => set({ value: e.target.value })}
            {...problemProps(problems, 'value')}
          />
        </div>
        {!draft.secret && <Parsed draft={draft} saved={saved} />}
      </div>
      <FieldProblem problems={problems} field="value" onLocate={(l, c) => locate(value.current, l, c)} />
      <label className="inline">
        <input
          type="checkbox"
          checked={draft.secret}
          disabled={disabled}
          onChange={(e) => set({ secret: e.target.checked })}
        />
        Secret: encrypted at rest, masked in the console and the audit log, served only to server-side SDK
        keys of this service
      </label>
      <details className="schema" open={draft.schema !== '' || !!problems.schema}>
        <summary>JSON Schema {draft.schema === '' ? '(none)' : ''}</summary>
        <div className="field">
          <label htmlFor={`${id}-schema`}>JSON Schema the parsed value must satisfy (empty: none)</label>
          <textarea
            id={`${id}-schema`}
            ref={schema}
            className="mono"
            rows={rows(draft.schema, 4)}
            spellCheck={false}
            value={draft.schema}
            disabled={disabled}
            placeholder={'{"type": "object", "required": ["pool"]}'}
            onChange={(e) => set({ schema: e.target.value })}
            {...problemProps(problems, 'schema')}
          />
        </div>
        <FieldProblem problems={problems} field="schema" onLocate={(l, c) => locate(schema.current, l, c)} />
      </details>
      <h3>Overrides</h3>
      <p className="muted">
        Other values for some instances (gradual release): the first override whose condition matches an
        instance (and whose share includes it) decides.
      </p>
      <OverridesEditor
        value={draft.overrides}
        format={draft.format}
        disabled={disabled}
        problems={problems}
        secret={secretValues}
        onChange={(overrides) => set({ overrides })}
      />
    </>
  );
}
