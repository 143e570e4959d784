// JSON Schema validation of object variant values in the browser, before a save, so a value
// the server would refuse (it checks every variant against the flag's `schema` on each write)
// is shown at its variant with the JSON path of each problem.
//
// The validator is @cfworker/json-schema, an interpreter: Ajv compiles every schema to code
// with `new Function`, which the console's Content-Security-Policy (`script-src 'self'`, no
// 'unsafe-eval') forbids. This module is imported on demand (by the object value editor) so
// the validator is not part of the initial JavaScript.
import { type Schema, type SchemaDraft, Validator } from '@cfworker/json-schema';

/** One problem of a value: where (`$.limits[0].rate`) and what. */
export interface SchemaProblem {
  /** JSON path of the offending part of the value, `$` for the value itself. */
  path: string;
  /** What is wrong. */
  message: string;
}

/** A compiled check of values against one schema. */
export type SchemaCheck = (value: unknown) => SchemaProblem[];

/** The draft a schema declares with `$schema`; 2020-12 (the server's default) otherwise. */
export function draftOf(schema: unknown): SchemaDraft {
  const id = typeof schema === 'object' && schema !== null ? (schema as { $schema?: unknown }).$schema : '';
  const uri = typeof id === 'string' ? id : '';
  if (uri.includes('draft-04')) return '4';
  if (uri.includes('draft-06') || uri.includes('draft-07')) return '7';
  if (uri.includes('2019-09')) return '2019-09';
  return '2020-12';
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `#/limits/0/a~1b` (a URI-fragment JSON Pointer) as a JSON path: `$.limits[0]["a/b"]`. */
export function pointerToPath(pointer: string): string {
  const body = pointer.replace(/^#/, '');
  if (body === '' || body === '/') return '$';
  return body
    .split('/')
    .slice(1)
    .map((raw) => decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, token) =>
        /^(0|[1-9][0-9]*)$/.test(token)
          ? `${path}[${token}]`
          : IDENT.test(token)
            ? `${path}.${token}`
            : `${path}[${JSON.stringify(token)}]`,
      '$',
    );
}

// Keywords whose error only says that something inside failed; the inner error is reported.
const SUMMARIES = new Set([
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'prefixItems',
  'additionalItems',
  'unevaluatedItems',
  'dependentSchemas',
  'allOf',
  '$ref',
  '$recursiveRef',
  '$dynamicRef',
  'then',
  'else',
]);

/**
 * Compiles `schema` into a check; a schema that cannot be used (an unresolved `$ref`, not an
 * object or boolean) gives a check that reports it on every value.
 */
export function compileSchema(schema: unknown): SchemaCheck {
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null)) {
    return () => [{ path: '$', message: "The flag's JSON Schema is not an object or a boolean." }];
  }
  const validator = new Validator(schema as Schema | boolean, draftOf(schema), false);
  return (value) => {
    let result: ReturnType<Validator['validate']>;
    try {
      result = validator.validate(value);
    } catch (e) {
      return [{ path: '$', message: `The flag's JSON Schema cannot be used: ${(e as Error).message}` }];
    }
    if (result.valid) return [];
    const leaves = result.errors.filter((e) => !SUMMARIES.has(e.keyword));
    const shown = leaves.length > 0 ? leaves : result.errors;
    const seen = new Set<string>();
    return shown.flatMap((e) => {
      const problem = {
        path: pointerToPath(e.instanceLocation),
        message: e.keyword === 'false' ? 'is not allowed here.' : e.error,
      };
      const id = `${problem.path} ${problem.message}`;
      if (seen.has(id)) return [];
      seen.add(id);
      return [problem];
    });
  };
}
