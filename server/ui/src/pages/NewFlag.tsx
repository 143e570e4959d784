// Creating a flag: key, type, variants and the project-wide fields. Every environment gets
// the initial targeting (off, serving the first variant); the editor opens next.
import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, api, ok, type ValueType, type Variants } from '../api/client';
import { keys } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { VariantsEditor } from '../editor/VariantsEditor';

const STARTERS: Record<ValueType, Variants> = {
  boolean: { on: true, off: false },
  string: { control: 'a', treatment: 'b' },
  integer: { low: 1, high: 10 },
  float: { low: 0.5, high: 1.5 },
  object: { default: {}, alternative: {} },
};

/** The new-flag form. */
export default function NewFlag() {
  const { project, env } = useCurrent();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [type, setType] = useState<ValueType>('boolean');
  const [variants, setVariants] = useState<Variants>(STARTERS.boolean);
  const [bad, setBad] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const key = String(f.get('key') ?? '').trim();
    setError(null);
    try {
      await ok(
        api.POST('/v1/projects/{project}/flags', {
          params: { path: { project } },
          body: {
            key,
            type,
            variants: variants as Record<string, never>,
            description: String(f.get('description') ?? ''),
            owner: String(f.get('owner') ?? ''),
            tags: String(f.get('tags') ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
            client_visible: f.get('client_visible') === 'on',
          },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: keys.flags(project) });
      navigate(`/p/${project}/e/${env}/flags/${encodeURIComponent(key)}`);
    } catch (err) {
      setError(err);
    }
  }
  const fieldError = (name: string) =>
    error instanceof ApiError && error.field?.startsWith(name) ? (
      <span className="error" role="alert">
        {error.message}
      </span>
    ) : null;

  return (
    <section aria-labelledby="new-title" className="panel narrow">
      <h1 id="new-title">New flag</h1>
      <form onSubmit={submit}>
        <label>
          Key
          <input name="key" required pattern="[A-Za-z0-9_.\-]{1,128}" placeholder="e.g. new-checkout" />
          {fieldError('key')}
        </label>
        <label>
          Type
          <select
            value={type}
            onChange={(e) => {
              const t = e.target.value as ValueType;
              setType(t);
              setVariants(STARTERS[t]);
              setBad([]);
            }}
          >
            {Object.keys(STARTERS).map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Variants</legend>
          <VariantsEditor
            key={type}
            type={type}
            value={variants}
            onChange={(v, b) => {
              setVariants(v);
              setBad(b);
            }}
          />
          {fieldError('variants')}
        </fieldset>
        <label>
          Description
          <input name="description" />
        </label>
        <label>
          Owner
          <input name="owner" />
        </label>
        <label>
          Tags (comma-separated)
          <input name="tags" />
        </label>
        <label className="inline">
          <input type="checkbox" name="client_visible" />
          Visible to client-side SDKs
        </label>
        {!(error instanceof ApiError && error.field) && <ErrorNote error={error} />}
        <p className="muted">Every environment starts off, serving the first variant.</p>
        <button type="submit" className="primary" disabled={bad.length > 0}>
          Create flag
        </button>
      </form>
    </section>
  );
}
