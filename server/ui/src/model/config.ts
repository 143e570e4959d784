// The configuration editor's model: an entry as an editable draft (text fields only) and back
// to the API's input, the cheap checks done in the browser before a save (JSON that does not
// parse, with its line and column; a schema or condition that is not JSON; a percentage out of
// range), where a server refusal (422 `field`) belongs in the form, the unified diff of two
// revisions as classified lines, and the previews of the entry list. Pure functions, pinned by
// config.test.ts.
import { fromPercent, toPercent } from './rollout';

/** The formats an entry's text can be written in. */
export const FORMATS = ['json', 'yaml', 'toml', 'properties', 'text'] as const;

/** An entry's format. */
export type Format = (typeof FORMATS)[number];

/** How each format is named in the console. */
export const FORMAT_NAMES: Record<Format, string> = {
  json: 'JSON',
  yaml: 'YAML',
  toml: 'TOML',
  properties: 'Java properties',
  text: 'Plain text',
};

/** What the console shows in place of a secret value (as the API's diff and audit log do). */
export const MASKED = '********';

/** An override as the editor holds it: every field as typed. */
export interface OverrideDraft {
  /** Override id. */
  id: string;
  /** The condition as JSON text; empty: every instance. */
  when: string;
  /** Share of the matching instances as a percentage (`12.5`); empty: all of them. */
  percentage: string;
  /** The value, as text in the entry's format. */
  value: string;
}

/** An entry as the editor holds it. */
export interface EntryDraft {
  /** Entry key. */
  key: string;
  /** Format of `value` and of the overrides' values. */
  format: Format;
  /** The value as text. */
  value: string;
  /** The JSON Schema as JSON text; empty: none. */
  schema: string;
  /** What the entry is for. */
  description: string;
  /** Whether the entry is a secret. */
  secret: boolean;
  /** Overrides, first match decides. */
  overrides: OverrideDraft[];
}

/** An override as the API shows it (the fields the editor reads). */
export interface OverrideLike {
  id: string;
  when?: unknown;
  percentage?: number | null;
  value?: string | null;
}

/** An entry as the API shows it (the fields the editor reads). */
export interface EntryLike {
  key: string;
  format: Format;
  value?: string | null;
  schema?: unknown;
  description: string;
  secret: boolean;
  overrides: OverrideLike[];
}

/** An override as the API takes it. */
export interface OverrideInputLike {
  id: string;
  when: unknown;
  percentage: number | null;
  value: string;
}

/** An entry as the API takes it (`PUT …/configs/{key}`). */
export interface EntryInputLike {
  format: Format;
  value: string;
  schema: unknown;
  description: string;
  secret: boolean;
  overrides: OverrideInputLike[];
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

/** A blank draft of a new entry in `format`. */
export function newDraft(format: Format = 'json'): EntryDraft {
  return { key: '', format, value: '', schema: '', description: '', secret: false, overrides: [] };
}

/**
 * The draft of an entry as read. A secret's values are write-only (the API answers `null`):
 * they start empty and must be typed again to save.
 */
export function draftOf(e: EntryLike): EntryDraft {
  return {
    key: e.key,
    format: e.format,
    value: e.value ?? '',
    schema: e.schema === null || e.schema === undefined ? '' : pretty(e.schema),
    description: e.description,
    secret: e.secret,
    overrides: e.overrides.map((o) => ({
      id: o.id,
      when: o.when === null || o.when === undefined ? '' : pretty(o.when),
      percentage: o.percentage === null || o.percentage === undefined ? '' : toPercent(o.percentage),
      value: o.value ?? '',
    })),
  };
}

/** A new override for a draft with `taken` ids: `canary`, `canary-2`, … */
export function newOverride(taken: readonly string[]): OverrideDraft {
  let id = 'canary';
  for (let n = 2; taken.includes(id); n++) id = `canary-${n}`;
  return { id, when: '', percentage: '10', value: '' };
}

/** `percentage` in basis points as the console shows it: `12.5 %`; absent: every instance. */
export function percentLabel(bp: number | null | undefined): string {
  return bp === null || bp === undefined ? 'all' : `${toPercent(bp)} %`;
}

/** The 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

/** The offset of the 1-based `line` and `column` in `text` (clamped to the text). */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(offset + Math.max(0, column - 1), lineEnd);
}

/** `line 3, column 7` in a server message (a parse error's place), when it names one. */
export function placeInMessage(message: string): { line: number; column: number } | undefined {
  const m = /line (\d+), column (\d+)/.exec(message);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}

/** The outcome of [`checkJson`]. */
export type JsonCheck =
  | { ok: true; value: unknown }
  | { ok: false; message: string; line: number; column: number };

const WS = new Set([' ', '\t', '\n', '\r']);

/**
 * Finds where JSON text stops being JSON (RFC 8259): the offset and what was expected, or
 * `undefined` for valid JSON. Engines' own `JSON.parse` messages do not reliably say where.
 */
export function jsonErrorAt(text: string): { offset: number; message: string } | undefined {
  let i = 0;
  const fail = (message: string): never => {
    throw { offset: i, message };
  };
  const ws = () => {
    while (i < text.length && WS.has(text[i] ?? '')) i++;
  };
  const got = () => (i < text.length ? `'${text[i]}'` : 'the end of the text');
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${got()}`);
  };
  const string = () => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text[i] ?? '';
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1] ?? '';
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            fail('a \\u escape needs four hex digits');
          }
          i += 6;
        } else if ('"\\/bfnrt'.includes(e) && e !== '') {
          i += 2;
        } else {
          i++;
          fail(`unknown escape \\${e}`);
        }
      } else if (c < ' ') {
        fail('a control character in a string must be escaped');
      } else {
        i++;
      }
    }
    fail('unterminated string');
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '-') fail(`unexpected ${got()}`);
    i += m?.[0].length ?? 0;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${got()}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after a property name, found ${got()}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' in an object, found ${got()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' in an array, found ${got()}`);
      }
    }
    if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail(i < text.length ? `unexpected ${got()}` : 'expected a value, found the end of the text');
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail(`unexpected ${got()} after the value`);
    return undefined;
  } catch (e) {
    return e as { offset: number; message: string };
  }
}

/** Parses JSON text; a failure says at which line and column, as the server would. */
export function checkJson(text: string): JsonCheck {
  const at = jsonErrorAt(text);
  if (at) {
    const { line, column } = lineColumn(text, at.offset);
    return {
      ok: false,
      message: `not valid JSON at line ${line}, column ${column}: ${at.message}`,
      line,
      column,
    };
  }
  return { ok: true, value: JSON.parse(text) };
}

/** Problems of a draft, by the field name the server uses (`value`, `overrides[0].when`, …). */
export type Problems = Record<string, string>;

/** What [`inputOf`] makes of a draft: the API input, or the problems to fix first. */
export type Converted = { ok: true; input: EntryInputLike } | { ok: false; problems: Problems };

/**
 * The API input of a draft, or what is wrong with it that the browser can tell cheaply: JSON
 * values that do not parse (the other formats are parsed by the server), a schema or condition
 * that is not JSON, a percentage that is not 0–100 with at most two decimals, a missing or
 * repeated override id. `secretValues`: the entry was a secret when opened, so its values
 * (write-only) must be typed again.
 */
export function inputOf(d: EntryDraft, secretValues = false): Converted {
  const problems: Problems = {};
  const checkValue = (field: string, text: string) => {
    if (secretValues && text === '') {
      problems[field] = 'Secret values are write-only: enter the value again to save.';
    } else if (d.format === 'json') {
      const c = checkJson(text);
      if (!c.ok) problems[field] = `${field}: ${c.message}`;
    }
  };
  checkValue('value', d.value);
  let schema: unknown = null;
  if (d.schema.trim() !== '') {
    const c = checkJson(d.schema);
    if (!c.ok) problems.schema = `schema: ${c.message}`;
    else if (typeof c.value !== 'object' && typeof c.value !== 'boolean') {
      problems.schema = 'schema: a JSON Schema is an object (or true or false).';
    } else schema = c.value;
  }
  const overrides = d.overrides.map((o, i): OverrideInputLike => {
    const f = `overrides[${i}]`;
    if (o.id.trim() === '') problems[`${f}.id`] = 'Name the override.';
    else if (o.id === 'base') problems[`${f}.id`] = '"base" is reserved.';
    else if (d.overrides.slice(0, i).some((p) => p.id === o.id)) {
      problems[`${f}.id`] = `${o.id} is already an override of this entry.`;
    }
    let when: unknown = null;
    if (o.when.trim() !== '') {
      const c = checkJson(o.when);
      if (!c.ok) problems[`${f}.when`] = `condition: ${c.message}`;
      else if (typeof c.value !== 'object' || c.value === null || Array.isArray(c.value)) {
        problems[`${f}.when`] = 'A condition is a JSON object, e.g. {"attribute": "zone", "op": "in", …}.';
      } else when = c.value;
    }
    let percentage: number | null = null;
    if (o.percentage.trim() !== '') {
      const bp = fromPercent(o.percentage);
      if (bp === undefined) problems[`${f}.percentage`] = 'A percentage from 0 to 100, at most two decimals.';
      else percentage = bp;
    }
    checkValue(`${f}.value`, o.value);
    return { id: o.id.trim(), when, percentage, value: o.value };
  });
  if (Object.keys(problems).length > 0) return { ok: false, problems };
  return {
    ok: true,
    input: {
      format: d.format,
      value: d.value,
      schema,
      description: d.description,
      secret: d.secret,
      overrides,
    },
  };
}

/**
 * The form field a server refusal belongs to, from its `field` and message: `value`, `schema`,
 * `overrides[1].when`, …; a schema violation's `field` is a JSON pointer into the value and its
 * message names which value (`overrides[0].value breaks the schema at /pool: …`).
 */
export function fieldOfError(field: string | undefined, message: string): string | undefined {
  if (!field) return undefined;
  if (field.startsWith('/')) {
    const which = /^(value|overrides\[\d+\]\.value) breaks the schema/.exec(message);
    return which?.[1] ?? 'value';
  }
  if (
    field === 'value' ||
    field === 'schema' ||
    /^overrides\[\d+\]\.(id|when|percentage|value)$/.test(field)
  ) {
    return field;
  }
  if (field === 'key') return 'key';
  return undefined;
}

/** One line of a unified diff, classified for display. */
export interface DiffLine {
  /**
   * `add`ed, `del`eted, unchanged `context`, a `hunk` header (`@@ … @@`), a `header` line before
   * the first hunk (`---`/`+++`), or a `note` (`\ No newline at end of file`).
   */
  kind: 'add' | 'del' | 'context' | 'hunk' | 'header' | 'note';
  /** The line without its leading marker. */
  text: string;
  /** Its line number in the older text (deleted and unchanged lines). */
  old?: number;
  /** Its line number in the newer text (added and unchanged lines). */
  new?: number;
}

/** Classifies the lines of a unified diff and numbers them from its hunk headers. */
export function diffLines(unified: string): DiffLine[] {
  const out: DiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  const lines = unified.replace(/\n$/, '').split('\n');
  if (unified === '') return out;
  for (const line of lines) {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      inHunk = true;
      out.push({ kind: 'hunk', text: line });
    } else if (!inHunk) {
      out.push({ kind: 'header', text: line });
    } else if (line.startsWith('\\')) {
      out.push({ kind: 'note', text: line });
    } else if (line.startsWith('+')) {
      out.push({ kind: 'add', text: line.slice(1), new: newNo++ });
    } else if (line.startsWith('-')) {
      out.push({ kind: 'del', text: line.slice(1), old: oldNo++ });
    } else {
      out.push({ kind: 'context', text: line.slice(1), old: oldNo++, new: newNo++ });
    }
  }
  return out;
}

/** How many lines a diff adds and removes. */
export function diffStat(lines: readonly DiffLine[]): { added: number; removed: number } {
  return {
    added: lines.filter((l) => l.kind === 'add').length,
    removed: lines.filter((l) => l.kind === 'del').length,
  };
}

/**
 * One line of an entry's value for the list: whitespace runs collapsed, cut at `max`
 * characters with an ellipsis; a secret's value is masked.
 */
export function valuePreview(e: { secret: boolean; value?: string | null }, max = 80): string {
  if (e.secret) return MASKED;
  const flat = (e.value ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The parts of an entry a draft changes from `before`, in form order. */
export function changedFields(before: EntryDraft, after: EntryDraft): string[] {
  const fields: (keyof EntryDraft)[] = ['format', 'value', 'schema', 'description', 'secret', 'overrides'];
  return fields.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]));
}

/** The text a new entry starts with in `format`. */
export function starterValue(format: Format): string {
  return format === 'json' ? '{}' : '';
}
