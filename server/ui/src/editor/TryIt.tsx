// "Try it": evaluate the flag for one evaluation context, on the published targeting or on the
// pending (unsaved) one, by the server's copy of the core the SDKs run
// (`POST .../flags/{key}/evaluate`): value, variant, reason, rule and bucket. Nothing is
// published or recorded.
import { useId, useState } from 'react';
import { api, ok, type Schemas, type Targeting } from '../api/client';
import { ErrorNote } from '../components/ErrorNote';

type Explanation = Schemas['Explanation'];

/** Props of [`TryIt`]. */
export interface TryItProps {
  /** Project key. */
  project: string;
  /** Environment key. */
  env: string;
  /** Flag key. */
  flagKey: string;
  /** The edited targeting when it differs from the published one, else `null`. */
  pending: Targeting | null;
}

/** Parses the attributes box: a JSON object (empty text = no attributes). */
export function parseAttributes(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('attributes must be a JSON object, e.g. {"country": "DE", "age": 30}');
  }
  return value as Record<string, unknown>;
}

/** The panel: a targeting key, attributes as JSON, two ways to evaluate, and the answer. */
export function TryIt({ project, env, flagKey, pending }: TryItProps) {
  const id = useId();
  const [targetingKey, setTargetingKey] = useState('user-1');
  const [attributes, setAttributes] = useState('{\n  "country": "DE"\n}');
  const [result, setResult] = useState<Explanation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function evaluate(withPending: boolean) {
    setError(null);
    setResult(null);
    let context: Record<string, unknown>;
    try {
      context = parseAttributes(attributes);
    } catch (e) {
      setError(e);
      return;
    }
    if (targetingKey) context.targetingKey = targetingKey;
    setBusy(true);
    try {
      const body = withPending && pending ? { context, targeting: pending } : { context };
      const { data } = await ok(
        api.POST('/v1/projects/{project}/environments/{env}/flags/{key}/evaluate', {
          params: { path: { project, env, key: flagKey } },
          body,
        }),
      );
      setResult(data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby={`${id}-title`} className="panel try-it">
      <h2 id={`${id}-title`}>Try it in {env}</h2>
      <div className="row">
        <label>
          <span className="label">Targeting key</span>
          <input value={targetingKey} onChange={(e) => setTargetingKey(e.target.value)} />
        </label>
        <label className="grow">
          <span className="label">Attributes (JSON object)</span>
          <textarea
            rows={3}
            spellCheck={false}
            value={attributes}
            onChange={(e) => setAttributes(e.target.value)}
          />
        </label>
      </div>
      <div className="actions">
        <button type="button" disabled={busy} onClick={() => void evaluate(false)}>
          Evaluate published
        </button>
        <button
          type="button"
          disabled={busy || !pending}
          title={pending ? undefined : 'No unsaved changes to evaluate'}
          onClick={() => void evaluate(true)}
        >
          Evaluate unsaved changes
        </button>
      </div>
      {error !== null && <ErrorNote error={error} />}
      {result && (
        <dl className="explanation" aria-label="Evaluation result">
          <dt>Value</dt>
          <dd>
            <code>{JSON.stringify(result.value)}</code>
          </dd>
          <dt>Variant</dt>
          <dd>{result.variant ?? '—'}</dd>
          <dt>Reason</dt>
          <dd>{result.reason}</dd>
          <dt>Rule</dt>
          <dd>{result.rule_id ?? '—'}</dd>
          <dt>Bucket</dt>
          <dd>
            {result.bucket === null || result.bucket === undefined
              ? '—'
              : `${result.bucket} of 10,000 (${(result.bucket / 100).toFixed(2)} %)`}
          </dd>
          {result.error_code && (
            <>
              <dt>Error</dt>
              <dd>
                {result.error_code}: {result.error_message}
              </dd>
            </>
          )}
          <dt>Snapshot</dt>
          <dd>
            version {result.version}
            {result.pending ? ' with the unsaved targeting' : ''}
          </dd>
        </dl>
      )}
    </section>
  );
}
