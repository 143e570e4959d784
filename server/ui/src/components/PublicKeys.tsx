// Each environment's public keys, to copy into SDK configuration (`trusted_keys`): the active
// key and, during a rotation, the previous ones still co-signing
// (`GET /v1/projects/{project}/environments/{env}/keys`). Public keys are not secret; every
// viewer may see them.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type Environment, ok } from '../api/client';
import { ErrorNote } from './ErrorNote';

function EnvironmentKeys({ project, env }: { project: string; env: Environment }) {
  const keys = useQuery({
    queryKey: ['keys', project, env.key],
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/environments/{env}/keys', {
            params: { path: { project, env: env.key } },
          }),
        )
      ).data,
  });
  const [copied, setCopied] = useState('');
  if (keys.error) return <ErrorNote error={keys.error} />;
  if (!keys.data) return <p aria-busy="true">Loading…</p>;
  const rotating = keys.data.keys.length > 1;
  return (
    <div className="env-keys">
      <h3>
        {env.name || env.key}
        {rotating && <span className="badge">rotation in progress</span>}
      </h3>
      <p className="note">
        Active key from {keys.data.source === 'environment' ? `$${keys.data.variable}` : 'the data directory'}
        .
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Key id</th>
            <th scope="col">Public key (base64)</th>
            <th scope="col">
              <span className="sr-only">Copy</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.data.keys.map((k) => (
            <tr key={k.keyid}>
              <td>{k.status}</td>
              <td>
                <code>{k.keyid}</code>
              </td>
              <td>
                <code className="key">{k.public_key}</code>
              </td>
              <td>
                <button
                  type="button"
                  className="ghost"
                  aria-label={`Copy the ${k.status} public key of ${env.key}`}
                  onClick={() => {
                    void navigator.clipboard?.writeText(k.public_key).then(() => setCopied(k.keyid));
                  }}
                >
                  {copied === k.keyid ? 'Copied' : 'Copy'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One table per environment of `project`. */
export function PublicKeys({ project, environments }: { project: string; environments: Environment[] }) {
  return (
    <section aria-labelledby="pk-title" className="panel">
      <h2 id="pk-title">Public keys for SDKs</h2>
      <p className="note">
        SDKs verify every snapshot with these keys: pass the active key (and during a rotation the others) as
        the SDK's trusted keys.
      </p>
      {environments.map((e) => (
        <EnvironmentKeys key={e.key} project={project} env={e} />
      ))}
    </section>
  );
}
