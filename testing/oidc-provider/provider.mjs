// A real OpenID provider (the `oidc-provider` package) on loopback, for the single sign-on
// tests of the server (server/tests/it/oidc.rs) and the console (server/ui/e2e/oidc.test.mjs).
//
//   node provider.mjs --port PORT --redirect-uri URI [--client-id ID] [--client-secret SECRET]
//
// - Issuer http://127.0.0.1:PORT (PORT 0 picks a free port). Once listening it prints one
//   line, `issuer http://127.0.0.1:PORT`, to stdout.
// - One static confidential client (default `burgee` / `burgee-test-secret`,
//   client_secret_basic) whose only redirect URI is URI; PKCE (S256) is required.
// - Scopes openid, email, profile and `groups`; the claims go into the ID token itself.
// - The development interactions: GET the interaction URL, then POST `prompt=login`,
//   `login=<account>` and any `password` to it (a test does that with an HTTP client, or types
//   it into the form in a browser). Consent is implied for the static client (no second form).
// - Accounts (the login is the account id): USERS below.
import http from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

/** The accounts: login → claims. */
export const USERS = {
  alice: { email: 'alice@example.com', name: 'Alice Admin', groups: ['platform'] },
  pat: { email: 'pat@example.com', name: 'Pat Publisher', groups: ['release', 'staff'] },
  eddie: { email: 'eddie@example.com', name: 'Eddie Editor', groups: ['web'] },
  vic: { email: 'vic@example.org', name: 'Vic Viewer', groups: [] },
  nobody: { email: 'nobody@elsewhere.test', name: 'No Body', groups: ['outsiders'] },
  unverified: { email: 'mallory@example.com', name: 'Unverified', groups: ['platform'], email_verified: false },
};

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'redirect-uri': { type: 'string' },
    'client-id': { type: 'string', default: 'burgee' },
    'client-secret': { type: 'string', default: 'burgee-test-secret' },
  },
});
if (!values['redirect-uri']) {
  console.error('usage: node provider.mjs --port PORT --redirect-uri URI [--client-id ID] [--client-secret SECRET]');
  process.exit(2);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: values['client-id'],
      client_secret: values['client-secret'],
      redirect_uris: [values['redirect-uri']],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['burgee-test-provider-cookie-key'] },
  async findAccount(_ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...user };
      },
    };
  },
  // The static client is first-party: every scope and claim it asks for is granted without a
  // consent form.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      accountId: ctx.oidc.session.accountId,
      clientId: ctx.oidc.client.clientId,
    });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (_ctx, err) => console.error('provider error:', err));
server.on('request', provider.callback());
console.log(`issuer ${issuer}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
