// node-oidc-provider, the peer of the HTTP benchmark (bench/http/run), configured as the
// example provider is by bench/http/portcullis.toml: the same confidential client (id,
// secret, client_secret_basic, redirect URI, grant types), the same user and profile claims,
// the same scopes, opaque access tokens, ES256 ID tokens, PKCE S256 required, refresh tokens
// rotated on every use, the same lifetimes, the endpoints at the same paths, and DPoP
// accepted at the token endpoint without server nonces.
//
// Usage: node server.mjs --port PORT [--issuer URL] [--jwt-client-id ID --jwt-client-jwks FILE]
// (loopback only; serves until killed). With --jwt-client-*, a second client, as in the
// benchmark's private_key_jwt case: client credentials only, authenticated with ES256 client
// assertions verified with the public keys in FILE (a JWK Set).
//
// Sign-in: the benchmark signs the user in once (bench-driver prime). This server has no
// login page: GET /interaction/:uid signs in the configured user and grants the requested
// scopes at once (a benchmark-only shortcut, like a first sign-in and consent). Later
// authorization requests of that session find the grant through the session
// (oidc-provider's default loadExistingGrant) and go straight back to the client, as the
// example provider's remembered consent does.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

import MapAdapter from './adapter.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '18081' },
    issuer: { type: 'string' },
    'jwt-client-id': { type: 'string' },
    'jwt-client-jwks': { type: 'string' },
  },
});
const port = Number(args.port);
const issuer = args.issuer ?? `http://127.0.0.1:${port}`;

// The benchmark's client and user: the same as in bench/http/portcullis.toml.
const CLIENT = {
  client_id: 'bench-web',
  client_secret: 'S5zp9btO6p7kZtEkWEf3PVQ3AVYvBN2SlRmyxKbvmoY',
  redirect_uris: ['http://127.0.0.1:9000/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
  scope: 'openid profile offline_access api',
};
// The private_key_jwt case's client, as bench/http/run appends it to portcullis.toml.
const JWT_CLIENT = args['jwt-client-id'] && {
  client_id: args['jwt-client-id'],
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  // The provider signs with ES256 only (below); the default, RS256, would refuse the client.
  id_token_signed_response_alg: 'ES256',
  jwks: JSON.parse(readFileSync(args['jwt-client-jwks'], 'utf8')),
  scope: 'api',
};
const USER = {
  sub: 'alice',
  name: 'Alice Liddell',
  given_name: 'Alice',
  family_name: 'Liddell',
  preferred_username: 'alice',
  updated_at: 1700000000,
};

// One ES256 signing key, made at start (the example provider makes its keys on first use).
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'bench-es256',
  alg: 'ES256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: JWT_CLIENT ? [CLIENT, JWT_CLIENT] : [CLIENT],
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'profile', 'offline_access', 'api'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  },
  async findAccount(_ctx, id) {
    if (id !== USER.sub) return undefined;
    return { accountId: id, claims: async () => ({ ...USER }) };
  },
  features: {
    clientCredentials: { enabled: true },
    // Like Portcullis: a client may introspect its own tokens.
    introspection: {
      enabled: true,
      allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
    },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
    // DPoP (RFC 9449), for the benchmark's dpop case: a proof binds the client-credentials
    // token to its key, each proof's jti spent once in the adapter's ReplayDetection
    // (allowReplay: false, the default). No nonceSecret, so no server nonces are handed out
    // or required (requireNonce's default answers false); Portcullis requires none either
    // (DpopPolicy's default), though it sends a DPoP-Nonce header on each response.
    dPoP: { enabled: true },
  },
  pkce: { required: () => true },
  // Rotate every refresh token on use, as Portcullis does by default (RFC 9700 §4.14.2).
  rotateRefreshToken: true,
  // Lifetimes of bench/http/portcullis.toml (seconds).
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    ClientCredentials: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 2592000,
    Session: 28800,
    Grant: 2592000,
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  routes: {
    authorization: '/authorize',
    token: '/token',
    introspection: '/introspect',
    revocation: '/revoke',
    userinfo: '/userinfo',
    jwks: '/jwks',
  },
});

// The benchmark's sign-in and consent (see the top of the file).
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !/^\/interaction\/[\w-]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const accountId = details.session?.accountId ?? USER.sub;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const result = { consent: { grantId: await grant.save() } };
  // Sign in only when asked to: a new sign-in would start a new session.
  if (details.prompt.name === 'login') result.login = { accountId };
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: false,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening: issuer ${issuer}`);
});
