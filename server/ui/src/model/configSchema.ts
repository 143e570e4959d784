// The JSON Schema of a configuration entry checked in the browser, for JSON entries: the value
// and every override's value, each problem with its JSON path, before the server refuses the
// save (it checks every format; the other formats are parsed there). Imported by the entry
// editor only, so the validator stays out of the initial JavaScript.
import { checkJson, type EntryDraft, type Problems } from './config';
import { compileSchema } from './schema';

/**
 * What breaks the draft's schema, by field (`value`, `overrides[0].value`); empty when the
 * format is not JSON or the schema or a value does not parse (those are reported as such).
 */
export function schemaProblemsOf(d: EntryDraft): Problems {
  if (d.format !== 'json' || d.schema.trim() === '') return {};
  const schema = checkJson(d.schema);
  if (!schema.ok || (typeof schema.value !== 'object' && typeof schema.value !== 'boolean')) return {};
  const check = compileSchema(schema.value);
  const problems: Problems = {};
  const checkValue = (field: string, text: string) => {
    const v = checkJson(text);
    if (!v.ok) return;
    const found = check(v.value);
    if (found.length > 0) {
      problems[field] =
        `${field} does not match the JSON Schema: ${found.map((p) => `${p.path}: ${p.message}`).join('; ')}`;
    }
  };
  checkValue('value', d.value);
  d.overrides.forEach((o, i) => {
    checkValue(`overrides[${i}].value`, o.value);
  });
  return problems;
}
