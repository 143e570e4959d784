import { ApiError } from '../api/client';

/** An error as a visible, announced note: the API's code and message. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <p className="error" role="alert">
      {code && <strong>{code}: </strong>}
      {message}
    </p>
  );
}
