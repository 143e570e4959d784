import { describe, expect, it } from 'vitest';
import {
  changedFields,
  checkJson,
  diffLines,
  diffStat,
  draftOf,
  type EntryDraft,
  fieldOfError,
  inputOf,
  jsonErrorAt,
  lineColumn,
  MASKED,
  newDraft,
  newOverride,
  offsetOf,
  percentLabel,
  placeInMessage,
  valuePreview,
} from './config';
import { schemaProblemsOf } from './configSchema';

const draft = (change: Partial<EntryDraft>): EntryDraft => ({ ...newDraft('json'), value: '{}', ...change });

describe('percentages of overrides', () => {
  it('shows basis points as a percentage, absent as every instance', () => {
    expect(percentLabel(1250)).toBe('12.5 %');
    expect(percentLabel(10000)).toBe('100 %');
    expect(percentLabel(1)).toBe('0.01 %');
    expect(percentLabel(0)).toBe('0 %');
    expect(percentLabel(null)).toBe('all');
    expect(percentLabel(undefined)).toBe('all');
  });
  it('round-trips through the draft', () => {
    const d = draftOf({
      key: 'k',
      format: 'yaml',
      value: 'a: 1\n',
      schema: null,
      description: '',
      secret: false,
      overrides: [
        {
          id: 'eu',
          when: { attribute: 'zone', op: 'in', values: ['eu'] },
          percentage: 2550,
          value: 'a: 2\n',
        },
        { id: 'all', when: null, percentage: null, value: 'a: 3\n' },
      ],
    });
    expect(d.overrides.map((o) => o.percentage)).toEqual(['25.5', '']);
    const r = inputOf(d);
    expect(r.ok && r.input.overrides).toEqual([
      { id: 'eu', when: { attribute: 'zone', op: 'in', values: ['eu'] }, percentage: 2550, value: 'a: 2\n' },
      { id: 'all', when: null, percentage: null, value: 'a: 3\n' },
    ]);
  });
  it('refuses percentages out of range or too precise', () => {
    for (const p of ['101', '12.345', 'ten', '-1']) {
      const r = inputOf(draft({ overrides: [{ id: 'a', when: '', percentage: p, value: '1' }] }));
      expect(r.ok).toBe(false);
      expect(!r.ok && r.problems['overrides[0].percentage']).toMatch(/0 to 100/);
    }
  });
});

describe('JSON checks', () => {
  it('names the line and column where JSON stops', () => {
    const c = checkJson('{\n  "a": ,\n}');
    expect(c).toMatchObject({ ok: false, line: 2, column: 8 });
    expect(!c.ok && c.message).toMatch(/^not valid JSON at line 2, column 8: unexpected ','/);
    expect(jsonErrorAt('{"a": 1,}')?.message).toMatch(/property name/);
    expect(jsonErrorAt('[1, 2')?.message).toMatch(/expected ',' or '\]'/);
    expect(jsonErrorAt('"abc')?.message).toBe('unterminated string');
    expect(jsonErrorAt('{"a": tru}')?.offset).toBe(6);
    expect(jsonErrorAt('01')?.message).toMatch(/after the value/);
    expect(jsonErrorAt('')?.message).toMatch(/expected a value/);
    expect(jsonErrorAt('"\\x"')?.message).toMatch(/unknown escape/);
  });
  it('accepts what JSON.parse accepts', () => {
    for (const t of [
      '{}',
      '[]',
      ' 1 ',
      '-0.5e+3',
      '"\\u00e9\\n"',
      'null',
      '{"a": [true, false, {"b": null}]}',
    ]) {
      expect(jsonErrorAt(t)).toBeUndefined();
      expect(checkJson(t)).toEqual({ ok: true, value: JSON.parse(t) });
    }
  });
});

describe('lines and columns', () => {
  const text = 'one\ntwo\nthree';
  it('converts between offsets and 1-based lines and columns', () => {
    expect(lineColumn(text, 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn(text, 5)).toEqual({ line: 2, column: 2 });
    expect(offsetOf(text, 2, 2)).toBe(5);
    expect(offsetOf(text, 3, 99)).toBe(text.length);
    expect(offsetOf(text, 9, 1)).toBe(text.length);
  });
  it("reads a server message's place", () => {
    expect(placeInMessage('value: not valid YAML at line 2, column 7: did not find expected key')).toEqual({
      line: 2,
      column: 7,
    });
    expect(placeInMessage('value breaks the schema at /pool')).toBeUndefined();
  });
});

describe('drafts', () => {
  it('checks JSON values, schemas, conditions and override ids before a save', () => {
    const r = inputOf(
      draft({
        value: '{"a":',
        schema: '{"type":',
        overrides: [
          { id: 'x', when: '[1]', percentage: '', value: '1' },
          { id: 'x', when: '', percentage: '', value: '2' },
          { id: 'base', when: '', percentage: '', value: '3' },
        ],
      }),
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && Object.keys(r.problems).sort()).toEqual([
      'overrides[0].when',
      'overrides[1].id',
      'overrides[2].id',
      'schema',
      'value',
    ]);
  });
  it('leaves other formats to the server, and needs secrets typed again', () => {
    expect(inputOf(draft({ format: 'yaml', value: 'a: [' })).ok).toBe(true);
    const secret = inputOf(draft({ format: 'text', value: '', secret: true }), true);
    expect(!secret.ok && secret.problems.value).toMatch(/write-only/);
  });
  it('builds the API input', () => {
    const r = inputOf(draft({ value: '{"pool": 5}', schema: '{"type": "object"}', description: 'pool' }));
    expect(r).toEqual({
      ok: true,
      input: {
        format: 'json',
        value: '{"pool": 5}',
        schema: { type: 'object' },
        description: 'pool',
        secret: false,
        overrides: [],
      },
    });
  });
  it('names what changed', () => {
    const a = draft({});
    expect(changedFields(a, a)).toEqual([]);
    expect(changedFields(a, { ...a, value: '[]', secret: true })).toEqual(['value', 'secret']);
  });
  it('names new overrides uniquely', () => {
    expect(newOverride([]).id).toBe('canary');
    expect(newOverride(['canary', 'canary-2']).id).toBe('canary-3');
  });
  it('checks JSON values against the schema with their paths', () => {
    const d = draft({
      value: '{"pool": 99}',
      schema: '{"type": "object", "properties": {"pool": {"type": "integer", "maximum": 50}}}',
      overrides: [{ id: 'a', when: '', percentage: '', value: '{"pool": "x"}' }],
    });
    const p = schemaProblemsOf(d);
    expect(p.value).toMatch(/\$\.pool/);
    expect(p['overrides[0].value']).toMatch(/\$\.pool/);
    expect(schemaProblemsOf({ ...d, format: 'yaml' })).toEqual({});
    expect(schemaProblemsOf({ ...d, value: '{"pool": 5}', overrides: [] })).toEqual({});
  });
});

describe('server refusals', () => {
  it('places them at their field', () => {
    expect(fieldOfError('value', 'value: not valid YAML at line 1, column 3')).toBe('value');
    expect(fieldOfError('/pool', 'value breaks the schema at /pool: 99 is greater than 50')).toBe('value');
    expect(fieldOfError('/pool', 'overrides[1].value breaks the schema at /pool: …')).toBe(
      'overrides[1].value',
    );
    expect(fieldOfError('/', 'value breaks the schema at /: …')).toBe('value');
    expect(fieldOfError('overrides[0].when', 'not a condition')).toBe('overrides[0].when');
    expect(fieldOfError('schema', 'schema is not a valid JSON Schema')).toBe('schema');
    expect(fieldOfError('key', 'must be 1-128 characters')).toBe('key');
    expect(fieldOfError(undefined, 'x')).toBeUndefined();
    expect(fieldOfError('environment', 'x')).toBeUndefined();
  });
});

describe('unified diffs', () => {
  const diff = [
    '--- r1',
    '+++ r2',
    '@@ -1,3 +1,4 @@',
    ' pool: 5',
    '-timeout: 10',
    '+timeout: 30',
    '+retries: 2',
    ' name: x',
    '\\ No newline at end of file',
    '',
  ].join('\n');
  it('classifies and numbers the lines', () => {
    const lines = diffLines(diff);
    expect(lines.map((l) => l.kind)).toEqual([
      'header',
      'header',
      'hunk',
      'context',
      'del',
      'add',
      'add',
      'context',
      'note',
    ]);
    expect(lines[3]).toEqual({ kind: 'context', text: 'pool: 5', old: 1, new: 1 });
    expect(lines[4]).toEqual({ kind: 'del', text: 'timeout: 10', old: 2 });
    expect(lines[6]).toEqual({ kind: 'add', text: 'retries: 2', new: 3 });
    expect(lines[7]).toEqual({ kind: 'context', text: 'name: x', old: 3, new: 4 });
    expect(diffStat(lines)).toEqual({ added: 2, removed: 1 });
  });
  it('treats every line before the first hunk as a header', () => {
    const lines = diffLines(`${'='.repeat(10)}\n--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n`);
    expect(lines.map((l) => l.kind)).toEqual(['header', 'header', 'header', 'hunk', 'del', 'add']);
    expect(diffLines('')).toEqual([]);
  });
});

describe('previews', () => {
  it('flattens, cuts and masks values', () => {
    expect(valuePreview({ secret: false, value: 'a:\n  b: 1\n' })).toBe('a: b: 1');
    expect(valuePreview({ secret: false, value: 'x'.repeat(100) }, 10)).toBe(`${'x'.repeat(9)}…`);
    expect(valuePreview({ secret: true, value: null })).toBe(MASKED);
    expect(valuePreview({ secret: false, value: null })).toBe('');
  });
});
