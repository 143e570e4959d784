// One configuration entry of a service in the current environment: the editor (EntryForm:
// format, value, schema, description, secret, overrides), saved with If-Match after a review
// of the change (a 412 says someone saved a newer revision: reload), deleted with confirmation,
// and its history (ConfigHistory: diff, rollback). `…/new` creates an entry (no If-Match: a
// 409 when the key exists). A 422 is shown at the field it names, with its line and column or
// JSON pointer.
import { useQueryClient } from '@tanstack/react-query';
import { createTwoFilesPatch } from 'diff';
import { useEffect, useMemo, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { ApiError, atLeast } from '../api/client';
import {
  type ConfigInput,
  configKeys,
  deleteConfig,
  type ConfigEntry as Entry,
  putConfig,
  useConfigEntry,
} from '../api/configs';
import { useActorNames } from '../api/queries';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { ConfigHistory } from '../configs/ConfigHistory';
import { EntryForm } from '../configs/EntryForm';
import { UnifiedDiff } from '../configs/UnifiedDiff';
import {
  changedFields,
  draftOf,
  type EntryDraft,
  FORMAT_NAMES,
  fieldOfError,
  inputOf,
  newDraft,
  type Problems,
  starterValue,
} from '../model/config';
import { schemaProblemsOf } from '../model/configSchema';
import '../configs.css';

const time = (ms: number) => new Date(ms).toLocaleString();

/** What a page left for the next one to say (after a create or delete). */
interface Note {
  note?: string;
}

/** The editor of one entry (or a new one); a new instance per entry and environment. */
export default function ConfigEntryPage() {
  const { project, env, service, key } = useParams();
  return <EntryPage key={`${project}/${env}/${service}/${key ?? ''}`} />;
}

function EntryPage() {
  const { project, env, environment, role, canWrite } = useCurrent();
  const params = useParams();
  const service = params.service ?? '';
  const key = params.key ?? '';
  const isNew = !params.key;
  const scope = useMemo(() => ({ project, env, service }), [project, env, service]);
  const loaded = useConfigEntry(project, env, service, key);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const actor = useActorNames(atLeast(role, 'admin'));
  const [opened, setOpened] = useState<Entry | null>(null);
  const [draft, setDraft] = useState<EntryDraft>(() => ({ ...newDraft(), value: starterValue('json') }));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState((location.state as Note | null)?.note ?? '');
  const [reviewing, setReviewing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [generation, setGeneration] = useState(0);
  const base = `/p/${project}/e/${env}/configs/${encodeURIComponent(service)}`;

  // The draft starts from what was opened; background refetches do not replace it (a change by
  // someone else shows up as a 412 on save, not as edits silently lost).
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset only when first loaded or reloaded
  useEffect(() => {
    if (!loaded.data) return;
    setOpened(loaded.data.data);
    setDraft(draftOf(loaded.data.data));
  }, [loaded.data === undefined, generation]);

  // Only a writer is asked to type a secret again.
  const secretValues = !!opened?.secret && canWrite;
  const local = useMemo(() => inputOf(draft, secretValues), [draft, secretValues]);
  const schemaProblems = useMemo(() => schemaProblemsOf(draft), [draft]);
  const serverField =
    error instanceof ApiError && (error.status === 422 || error.status === 413 || error.status === 400)
      ? fieldOfError(error.field, error.message)
      : undefined;
  const problems: Problems = {
    ...schemaProblems,
    ...(local.ok ? {} : local.problems),
    ...(serverField && error instanceof Error ? { [serverField]: error.message } : {}),
  };
  const blocked = !local.ok || Object.keys(schemaProblems).length > 0 || (isNew && draft.key.trim() === '');
  const changes = opened ? changedFields(draftOf(opened), draft) : [];
  const conflict = error instanceof ApiError && error.status === 412;

  function edit(d: EntryDraft) {
    setDraft(d);
    setSaved('');
    // A refusal of the server is about the text it was given: it goes once the text changes.
    if (serverField) setError(null);
  }

  async function refresh() {
    await queryClient.invalidateQueries({ queryKey: configKeys.entries(project, env, service) });
  }

  async function reload() {
    setError(null);
    await refresh();
    await loaded.refetch();
    setGeneration((g) => g + 1);
  }

  async function save() {
    setReviewing(false);
    setError(null);
    setSaved('');
    if (!local.ok) return;
    const input = local.input as ConfigInput;
    try {
      const w = await putConfig(scope, isNew ? draft.key.trim() : key, input, opened?.revision);
      const rev = w.data.item?.revision;
      const published = w.data.published.map((p) => `version ${p.version}`).join(', ');
      const note = `Saved revision ${rev}; ${service} in ${env} published as ${published}.`;
      await refresh();
      if (isNew) {
        navigate(`${base}/entries/${encodeURIComponent(draft.key.trim())}`, { state: { note } });
        return;
      }
      await loaded.refetch();
      setGeneration((g) => g + 1);
      setSaved(note);
    } catch (e) {
      setError(e);
    }
  }

  async function remove() {
    setDeleting(false);
    setError(null);
    if (!opened) return;
    try {
      await deleteConfig(scope, key, opened.revision);
      await refresh();
      navigate(base, { state: { note: `Deleted ${key} from ${service} in ${env}.` } });
    } catch (e) {
      setError(e);
    }
  }

  if (!isNew && loaded.error) {
    return (
      <section>
        <p className="crumbs">
          <Link to={`/p/${project}/e/${env}/configs`}>Configuration</Link> / <Link to={base}>{service}</Link>{' '}
          /
        </p>
        <ErrorNote error={loaded.error} />
        {/* A deleted entry keeps its history: a rollback brings it back. */}
        {loaded.error instanceof ApiError && loaded.error.code === 'CONFIG_NOT_FOUND' && (
          <ConfigHistory
            scope={scope}
            entryKey={key}
            role={role}
            canWrite={canWrite}
            onRolledBack={(message) => {
              void reload().then(() => setSaved(message));
            }}
          />
        )}
      </section>
    );
  }
  if (!isNew && !opened) return <p aria-busy="true">Loading…</p>;

  const patch =
    opened && changes.includes('value') && !opened.secret
      ? createTwoFilesPatch(`r${opened.revision}`, 'edited', opened.value ?? '', draft.value)
      : '';
  const fieldProblem = !!serverField;

  return (
    <article className="editor config-entry" aria-labelledby="entry-title">
      <p className="crumbs">
        <Link to={`/p/${project}/e/${env}/configs`}>Configuration</Link> / <Link to={base}>{service}</Link> /
      </p>
      <header className="title-row">
        <h1 id="entry-title">
          {isNew ? `New entry of ${service}` : key}{' '}
          {opened && <span className="muted">{FORMAT_NAMES[opened.format]}</span>}
        </h1>
        <span>
          {opened?.secret && <span className="badge secret-badge">Secret</span>}{' '}
          <span className={`badge ${environment?.protected ? 'protected' : ''}`}>
            {env}
            {environment?.protected ? ' · protected' : ''}
          </span>
        </span>
      </header>
      {opened && (
        <p className="muted meta">
          Revision {opened.revision} · updated {time(opened.updated_at)} by {actor(opened.updated_by)} ·
          created {time(opened.created_at)}
        </p>
      )}
      {!canWrite && (
        <p className="note" role="note">
          Your role ({role}) can view this entry but not change it in {env}
          {environment?.protected ? ' (a protected environment needs publisher)' : ''}.
        </p>
      )}
      <section className="panel" aria-labelledby="fields-title">
        <h2 id="fields-title">
          {isNew ? 'Entry' : 'Value and settings'} in {env}
        </h2>
        <EntryForm
          draft={draft}
          onChange={edit}
          isNew={isNew}
          disabled={!canWrite}
          problems={problems}
          secretValues={secretValues}
          saved={
            opened && !opened.secret && opened.value !== null && opened.value !== undefined
              ? { text: opened.value, parsed: opened.parsed, revision: opened.revision }
              : undefined
          }
        />
      </section>

      <div className="savebar" aria-live="polite">
        {conflict && (
          <div className="error" role="alert">
            <strong>{key} changed since you opened it.</strong> Someone saved a newer revision; reload to see
            it (your edits here are discarded).{' '}
            <button type="button" onClick={() => void reload()}>
              Reload
            </button>
          </div>
        )}
        {!conflict && !fieldProblem && <ErrorNote error={error} />}
        {fieldProblem && error instanceof ApiError && (
          <p className="error">
            {error.code}: the server refused the {serverField === 'schema' ? 'schema' : 'value'}; see{' '}
            {serverField}
            {error.field && error.field !== serverField && (
              <>
                {' '}
                at <code>{error.field}</code>
              </>
            )}
            .
          </p>
        )}
        {saved && (
          <p className="ok" role="status">
            {saved}
          </p>
        )}
        {canWrite && (
          <>
            {!isNew && (
              <button type="button" className="danger delete" onClick={() => setDeleting(true)}>
                Delete entry
              </button>
            )}
            {isNew ? (
              <button type="button" className="primary" disabled={blocked} onClick={() => void save()}>
                Create entry
              </button>
            ) : (
              <>
                <button
                  type="button"
                  disabled={changes.length === 0}
                  onClick={() => setGeneration((g) => g + 1)}
                >
                  Discard changes
                </button>
                <button
                  type="button"
                  className="primary"
                  disabled={changes.length === 0 || blocked}
                  onClick={() => setReviewing(true)}
                >
                  Review and save
                </button>
              </>
            )}
          </>
        )}
      </div>

      {!isNew && (
        <ConfigHistory
          key={`h-${generation}`}
          scope={scope}
          entryKey={key}
          role={role}
          canWrite={canWrite}
          onRolledBack={(message) => {
            void reload().then(() => setSaved(message));
          }}
        />
      )}

      <Confirm
        open={reviewing}
        title={`Save ${key}${environment?.protected ? ` in protected ${env}` : ` in ${env}`}?`}
        confirmLabel="Save and publish"
        onCancel={() => setReviewing(false)}
        onConfirm={() => void save()}
      >
        <p>
          Changes: {changes.join(', ')}. {service}'s configuration in {env} is published as a new signed
          document; SDKs pick it up within seconds.
        </p>
        {patch && <UnifiedDiff diff={patch} label={`Value: revision ${opened?.revision} → edited`} />}
        {changes.includes('value') && opened?.secret && <p>The secret value is replaced (not shown).</p>}
      </Confirm>
      <Confirm
        open={deleting}
        title={`Delete ${key} from ${service} in ${env}?`}
        confirmLabel="Delete"
        onCancel={() => setDeleting(false)}
        onConfirm={() => void remove()}
      >
        <p>
          SDKs of {service} in {env} no longer get {key} once the new document is published. Its history
          stays: a rollback to an earlier revision brings it back.
        </p>
      </Confirm>
    </article>
  );
}
