import { describe, expect, it } from 'vitest';
import { compileSchema, draftOf, pointerToPath } from './schema';

describe('pointerToPath', () => {
  it('writes JSON paths', () => {
    expect(pointerToPath('#')).toBe('$');
    expect(pointerToPath('#/limits/0/rate')).toBe('$.limits[0].rate');
    expect(pointerToPath('#/a%20b~1c~0')).toBe('$["a b/c~"]');
    expect(pointerToPath('#/01')).toBe('$["01"]');
  });
});

describe('draftOf', () => {
  it('reads $schema, defaulting to 2020-12', () => {
    expect(draftOf({})).toBe('2020-12');
    expect(draftOf({ $schema: 'http://json-schema.org/draft-07/schema#' })).toBe('7');
    expect(draftOf({ $schema: 'http://json-schema.org/draft-04/schema#' })).toBe('4');
    expect(draftOf({ $schema: 'https://json-schema.org/draft/2019-09/schema' })).toBe('2019-09');
    expect(draftOf(true)).toBe('2020-12');
  });
});

describe('compileSchema', () => {
  const check = compileSchema({
    type: 'object',
    required: ['message'],
    additionalProperties: false,
    properties: {
      message: { type: 'string', minLength: 3 },
      severity: { enum: ['info', 'warning'] },
      limits: {
        type: 'array',
        items: { type: 'object', properties: { rate: { type: 'integer', minimum: 1 } } },
      },
    },
  });

  it('accepts a valid value', () => {
    expect(check({ message: 'hello', limits: [{ rate: 3 }] })).toEqual([]);
  });

  it('reports each problem once, at its path, without the summaries around it', () => {
    const problems = check({ message: 1, limits: [{ rate: 0 }], severity: 'x', extra: true });
    expect(problems.map((p) => p.path)).toEqual(['$.message', '$.severity', '$.limits[0].rate', '$.extra']);
    expect(problems[0]?.message).toMatch(/Expected "string"/);
    expect(problems[3]?.message).toBe('is not allowed here.');
  });

  it('reports a missing required member at the object', () => {
    expect(check({})).toEqual([{ path: '$', message: expect.stringMatching(/message/) }]);
  });

  it('reports a schema it cannot use instead of throwing', () => {
    expect(compileSchema({ $ref: '#/nope' })({})[0]?.message).toMatch(/cannot be used/);
    expect(compileSchema(42)({})[0]?.path).toBe('$');
    expect(compileSchema(true)({ any: 1 })).toEqual([]);
  });
});
