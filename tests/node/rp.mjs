// openid-client (v6) as a relying party of the Portcullis example provider, in two phases
// that tests/openid_client_node.rs runs around a signing-key rotation:
//
//   node rp.mjs phase1 SETTINGS_JSON   discovery, sign-in (code flow, PKCE, nonce, state),
//                                      ID token verified against the JWKS, UserInfo
//   node rp.mjs phase2 SETTINGS_JSON   refresh: a new ID token signed with the new key,
//                                      UserInfo, RP-initiated logout
//   node rp.mjs register SETTINGS_JSON dynamic registration (RFC 7591) with an initial
//                                      access token, sign-in with the registered client,
//                                      its registration read and deleted (RFC 7592), then
//                                      its refresh token refused
//   node rp.mjs jwt_auth SETTINGS_JSON  client_credentials, introspection and revocation
//                                      authenticated by PrivateKeyJwt (settings.pkcs8: an
//                                      ES256 key, base64 PKCS#8, and settings.kid) or
//                                      ClientSecretJwt (settings.client_secret)
//   node rp.mjs register_key SETTINGS_JSON  dynamic registration of a private_key_jwt
//                                      client with its own (generated) jwks, then a
//                                      client_credentials token with PrivateKeyJwt
//   node rp.mjs jar SETTINGS_JSON      JAR (RFC 9101): a client requiring signed request
//                                      objects signs in with buildAuthorizationUrlWithJAR
//                                      (ES256: settings.pkcs8, settings.kid) and PrivateKeyJwt;
//                                      its plain authorization request is refused
//   node rp.mjs dpop SETTINGS_JSON     DPoP (RFC 9449): client_credentials (settings.service_id,
//                                      service_secret), sign-in, refresh and UserInfo with
//                                      one DPoP key, each request to the provider logged
//   node rp.mjs par SETTINGS_JSON      pushed authorization requests (RFC 9126), required by
//                                      the provider: the front channel refused, then sign-in
//                                      through buildAuthorizationUrlWithPAR, without and with
//                                      DPoP (the code bound at the PAR endpoint, RFC 9449 §10.1)
//   node rp.mjs device SETTINGS_JSON   the device grant (RFC 8628) of a public client
//                                      (settings.client_id): initiateDeviceAuthorization,
//                                      the user's code entered, sign-in and consent in the
//                                      browser, then pollDeviceAuthorizationGrant
//   node rp.mjs modes SETTINGS_JSON    sign-ins with response_mode form_post, with JARM
//                                      (useJwtResponseMode: jwt) and with form_post.jwt,
//                                      each callback as openid-client receives it
//
// SETTINGS_JSON: { issuer, client_id, client_secret, redirect_uri, post_logout_redirect_uri,
// username, password, state_file, jwks_age }. Phase 1 writes what phase 2 needs (refresh
// token, cookies, the cached JWKS) to state_file. `jwks_age` (phase 2): how many seconds the
// provider's clock moved since phase 1; the JWKS cached in phase 1 is aged by as much, as it
// would have been in a relying party that kept running.
//
// The browser is plain fetch with a cookie jar and manual redirects, reading the forms of
// the login, consent and logout pages. Prints one JSON line with what it saw; on any failure
// prints the error to stderr and exits 1.

import { readFileSync, writeFileSync } from 'node:fs';
import * as client from 'openid-client';

const [phase, settingsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);

function check(condition, message) {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
}

/** A browser: a cookie jar, no automatic redirects. */
class Browser {
  constructor(cookies = {}) {
    this.cookies = { ...cookies };
  }

  async fetch(url, init = {}) {
    const cookie = Object.entries(this.cookies)
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, ...(cookie && { cookie }) },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (attributes.some((a) => a.trim().toLowerCase() === 'max-age=0')) {
        delete this.cookies[name];
      } else {
        this.cookies[name] = value;
      }
    }
    return response;
  }

  /** GETs `url`: the page, or where it redirects. */
  async get(url) {
    const response = await this.fetch(url);
    return page(url, response);
  }

  /** Submits the page's form with its hidden fields and `fields`. */
  async submit(form, fields) {
    const body = new URLSearchParams({ ...form.hidden, ...fields.single });
    for (const [name, value] of fields.repeated ?? []) {
      body.append(name, value);
    }
    const response = await this.fetch(form.action, { method: 'POST', body });
    return page(form.action, response);
  }
}

function unescape(text) {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#x27;', "'")
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

async function page(url, response) {
  const body = await response.text();
  const location = response.headers.get('location');
  const result = {
    status: response.status,
    location: location && new URL(location, url),
    body,
    form: undefined,
  };
  const form = body.match(/<form method="post" action="([^"]*)">/);
  if (form) {
    const hidden = {};
    for (const [, name, value] of body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
      hidden[name] = unescape(value);
    }
    const scopes = [...body.matchAll(/name="scope" value="([^"]*)" checked/g)].map((m) => unescape(m[1]));
    result.form = { action: new URL(unescape(form[1]), url), hidden, scopes };
  }
  return result;
}

function expectPage(result, action, what) {
  check(result.status === 200, `${what}: status ${result.status} ${result.location ?? ""}: ${result.body}`);
  check(result.form?.action.pathname.endsWith(action), `${what}: expected a form posting to ${action}: ${result.body}`);
  return result.form;
}

function expectRedirect(result, what) {
  check(result.status === 303, `${what}: expected 303, got ${result.status}: ${result.body}`);
  return result.location;
}

/** The `kid` and `alg` of a JWS. */
function header(jws) {
  return JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString());
}

/** Discovery from the issuer URL, with every JWKS download counted, and every request that
 * carries a DPoP proof logged in `counter.dpop` (if given) as `METHOD /path STATUS [error]`,
 * the error from the JSON body or the `WWW-Authenticate` challenge. */
async function configure(counter, clientId = settings.client_id, secret = settings.client_secret) {
  const countingFetch = async (url, options) => {
    const path = new URL(url).pathname;
    if (path.endsWith('/jwks')) {
      counter.jwks += 1;
    }
    const response = await fetch(url, options);
    if (counter.dpop && new Headers(options.headers).has('dpop')) {
      const body = await response.clone().json().catch(() => ({}));
      const challenge = response.headers.get('www-authenticate')?.match(/error="([^"]*)"/)?.[1];
      const error = body.error ?? challenge;
      counter.dpop.push(`${options.method} ${path} ${response.status}${error ? ` ${error}` : ''}`);
    }
    return response;
  };
  const config = await client.discovery(
    new URL(settings.issuer),
    clientId,
    undefined,
    client.ClientSecretBasic(secret),
    // A loopback issuer over plain http: allowed for this test only.
    { execute: [client.allowInsecureRequests], [client.customFetch]: countingFetch },
  );
  // Verify ID token signatures against the JWKS (openid-client skips it by default for
  // tokens from the token endpoint, which TLS already authenticates).
  client.enableNonRepudiationChecks(config);
  return config;
}

/** The error code of a refresh with `refreshToken`, which must be refused (or, for a 401
 * with a challenge, which openid-client does not read the body of, the status). */
async function refusedRefresh(config, refreshToken) {
  try {
    await client.refreshTokenGrant(config, refreshToken);
  } catch (error) {
    return error.error ?? error.status;
  }
  throw new Error('check failed: the refresh was not refused');
}

/** Signs in with `config`'s client: code flow, PKCE, state, nonce, ID token checked; the
 * code exchanged with `options` (a DPoP handle). With `pushed`, the request is pushed first
 * (RFC 9126), with the same `options`; else it is signed with `jarKey` (a request object,
 * RFC 9101) if given. `extra`: more authorization parameters; with a `form_post` response
 * mode the callback is the POST the provider's page would send. */
async function signIn(config, options = undefined, pushed = false, jarKey = undefined, extra = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: settings.redirect_uri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  };
  // Signed (JAR) and pushed (PAR): the request object is what is pushed (RFC 9126 §3).
  const signed = jarKey
    ? await client.buildAuthorizationUrlWithJAR(config, parameters, jarKey)
    : undefined;
  const authorizationUrl = pushed
    ? await client.buildAuthorizationUrlWithPAR(config, signed?.searchParams ?? parameters, options)
    : signed ?? client.buildAuthorizationUrl(config, parameters);
  // useJwtResponseMode always asks for `jwt`: another mode is set over it.
  if (extra.response_mode) {
    authorizationUrl.searchParams.set('response_mode', extra.response_mode);
  }

  const browser = new Browser();
  const login = expectPage(await browser.get(authorizationUrl), '/login', 'authorization');
  const consent = expectPage(
    await browser.submit(login, { single: { username: settings.username, password: settings.password } }),
    '/consent',
    'sign-in',
  );
  const approve = consent.scopes.filter((s) => s !== 'profile');
  const answer = await browser.submit(consent, {
    single: { decision: 'approve' },
    repeated: approve.map((s) => ['scope', s]),
  });
  let callback;
  let received;
  if (extra.response_mode?.startsWith('form_post')) {
    const form = expectPage(answer, new URL(settings.redirect_uri).pathname, 'consent (form post)');
    check(form.action.href === settings.redirect_uri, `form action ${form.action}`);
    callback = new Request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form.hidden),
    });
    received = Object.keys(form.hidden).sort();
  } else {
    callback = expectRedirect(answer, 'consent');
    check(callback.href.startsWith(settings.redirect_uri), `callback ${callback}`);
    received = [...callback.searchParams.keys()].sort();
  }

  // Checks state, iss (RFC 9207), the code exchange with PKCE, and the ID token: signature,
  // iss, aud, exp, iat, nonce.
  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    },
    undefined,
    options,
  );
  const claims = tokens.claims();
  check(claims.nonce === nonce, 'nonce');
  check(typeof tokens.refresh_token === 'string', 'a refresh token (offline_access)');
  return { tokens, claims, browser, approve, received };
}

async function phase1() {
  const counter = { jwks: 0 };
  const config = await configure(counter);
  const metadata = config.serverMetadata();
  check(metadata.issuer === settings.issuer, `issuer ${metadata.issuer}`);
  const { tokens, claims, browser, approve } = await signIn(config);
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  writeFileSync(
    settings.state_file,
    JSON.stringify({
      refresh_token: tokens.refresh_token,
      sub: claims.sub,
      cookies: browser.cookies,
      jwks_cache: client.getJwksCache(config),
    }),
  );
  return {
    sub: claims.sub,
    kid: header(tokens.id_token).kid,
    alg: header(tokens.id_token).alg,
    scope: tokens.scope,
    granted: approve,
    userinfo,
    jwks_downloads: counter.jwks,
  };
}

async function phase2() {
  const saved = JSON.parse(readFileSync(settings.state_file, 'utf8'));
  const counter = { jwks: 0 };
  const config = await configure(counter);
  // The JWKS this relying party cached in phase 1, as old as the provider's clock says.
  const cache = saved.jwks_cache;
  check(cache?.uat !== undefined, 'phase 1 cached the JWKS');
  cache.uat -= settings.jwks_age;
  client.setJwksCache(config, cache);

  // The refreshed ID token is signed with a key the cache does not know: openid-client
  // must download the JWKS again to verify it.
  const tokens = await client.refreshTokenGrant(config, saved.refresh_token);
  const claims = tokens.claims();
  check(claims.sub === saved.sub, `same sub: ${claims.sub} vs ${saved.sub}`);
  check(claims.nonce === undefined, 'no nonce in a refreshed ID token');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  // RP-initiated logout: the hint names the signed-in user, so no confirmation.
  const logoutState = client.randomState();
  const browser = new Browser(saved.cookies);
  const logoutUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: settings.post_logout_redirect_uri,
    state: logoutState,
  });
  const back = expectRedirect(await browser.get(logoutUrl), 'logout');
  check(back.searchParams.get('state') === logoutState, `logout state: ${back}`);
  back.search = '';
  check(back.href === settings.post_logout_redirect_uri, `logout redirect: ${back}`);
  check(!('session' in browser.cookies), 'the session cookie is cleared');

  // Introspection (RFC 7662) and revocation (RFC 7009) by the relying party itself.
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
  const afterRevocation = await client.tokenIntrospection(config, tokens.access_token);
  const refreshError = await refusedRefresh(config, tokens.refresh_token);

  return {
    sub: claims.sub,
    kid: header(tokens.id_token).kid,
    alg: header(tokens.id_token).alg,
    userinfo,
    jwks_downloads: counter.jwks,
    introspected: { active: introspected.active, client_id: introspected.client_id, sub: introspected.sub },
    after_revocation: afterRevocation,
    refresh_after_revocation: refreshError,
  };
}

/** RFC 7591 registration through openid-client, then RFC 7592 management by hand. */
async function register() {
  const config = await client.dynamicClientRegistration(
    new URL(settings.issuer),
    {
      redirect_uris: [settings.redirect_uri],
      client_name: 'openid-client',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid profile email offline_access',
    },
    undefined,
    { execute: [client.allowInsecureRequests], initialAccessToken: settings.initial_access_token },
  );
  const registered = config.clientMetadata();
  check(typeof registered.client_secret === 'string', 'a client secret');
  const { tokens, claims } = await signIn(config);

  const management = {
    headers: { authorization: `Bearer ${registered.registration_access_token}` },
  };
  const read = await fetch(registered.registration_client_uri, management);
  const readBody = await read.json();
  const deleted = await fetch(registered.registration_client_uri, { ...management, method: 'DELETE' });
  const refreshError = await refusedRefresh(config, tokens.refresh_token);
  return {
    client_id: registered.client_id,
    client_name: registered.client_name,
    sub: claims.sub,
    read: { status: read.status, client_id: readBody.client_id, client_name: readBody.client_name },
    deleted: deleted.status,
    refresh_after_delete: refreshError,
  };
}

/** The client's ES256 signing key: `settings.pkcs8`, base64 PKCS#8. */
function es256Key() {
  return crypto.subtle.importKey(
    'pkcs8',
    Buffer.from(settings.pkcs8, 'base64'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
}

/**
 * JWT client authentication (RFC 7523): openid-client makes every assertion (a fresh `jti`
 * each time). `settings.pkcs8` selects PrivateKeyJwt, else ClientSecretJwt with
 * `settings.client_secret`.
 */
async function jwtAuth() {
  let auth;
  if (settings.pkcs8) {
    auth = client.PrivateKeyJwt({ key: await es256Key(), kid: settings.kid });
  } else {
    auth = client.ClientSecretJwt(settings.client_secret);
  }
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    undefined,
    auth,
    { execute: [client.allowInsecureRequests] },
  );
  const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  await client.tokenRevocation(config, tokens.access_token);
  const after = await client.tokenIntrospection(config, tokens.access_token);
  return {
    token_type: tokens.token_type,
    introspected: { active: introspected.active, client_id: introspected.client_id },
    after_revocation: { active: after.active },
  };
}

/**
 * Token exchange (RFC 8693) through openid-client's `genericGrantRequest`: the client's own
 * client_credentials token exchanged for a narrower one (impersonation), then with itself as
 * the actor (delegation, `act` seen at introspection), then for a scope it never had.
 */
async function tokenExchange() {
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    settings.client_secret,
    undefined,
    { execute: [client.allowInsecureRequests] },
  );
  const grant = 'urn:ietf:params:oauth:grant-type:token-exchange';
  const accessToken = 'urn:ietf:params:oauth:token-type:access_token';
  const own = await client.clientCredentialsGrant(config, { scope: 'read write' });
  const subject = { subject_token: own.access_token, subject_token_type: accessToken };
  const narrower = await client.genericGrantRequest(config, grant, { ...subject, scope: 'read' });
  const narrowerSeen = await client.tokenIntrospection(config, narrower.access_token);
  const delegated = await client.genericGrantRequest(config, grant, {
    ...subject,
    actor_token: own.access_token,
    actor_token_type: accessToken,
  });
  const delegatedSeen = await client.tokenIntrospection(config, delegated.access_token);
  let refused;
  try {
    await client.genericGrantRequest(config, grant, { ...subject, scope: 'admin' });
  } catch (error) {
    refused = { error: error.error, status: error.status };
  }
  return {
    advertised: config.serverMetadata().grant_types_supported.includes(grant),
    narrower: {
      issued_token_type: narrower.issued_token_type,
      token_type: narrower.token_type,
      refresh_token: narrower.refresh_token ?? null,
      scope: narrowerSeen.scope,
    },
    act: delegatedSeen.act,
    refused,
  };
}

/**
 * RFC 7591 with a key: openid-client registers a private_key_jwt client whose jwks is the
 * public half of a key made here, then authenticates with PrivateKeyJwt.
 */
async function registerKey() {
  const kid = 'rp-dyn-1';
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign', 'verify'],
  );
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const config = await client.dynamicClientRegistration(
    new URL(settings.issuer),
    {
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [{ kty, crv, x, y, kid, use: 'sig', alg: 'ES256' }] },
      scope: 'read',
    },
    client.PrivateKeyJwt({ key: privateKey, kid }),
    { execute: [client.allowInsecureRequests], initialAccessToken: settings.initial_access_token },
  );
  const registered = config.clientMetadata();
  check(registered.client_secret === undefined, 'no client secret');
  const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
  check(typeof tokens.access_token === 'string', 'an access token');
  return {
    client_id: registered.client_id,
    token_endpoint_auth_method: registered.token_endpoint_auth_method,
    token_type: tokens.token_type,
  };
}

/** Discovery for `settings.client_id`, authenticating with `private_key_jwt` by `key`. */
function keyConfig(key) {
  return client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    undefined,
    client.PrivateKeyJwt({ key, kid: settings.kid }),
    { execute: [client.allowInsecureRequests] },
  );
}

/**
 * JAR (RFC 9101): the client must send signed request objects (`require_signed_request_object`).
 * A plain authorization request is redirected back with `invalid_request`; one made by
 * buildAuthorizationUrlWithJAR (only `client_id` and `request` in the URL) signs in, and the
 * code is exchanged with PrivateKeyJwt.
 */
async function jar() {
  const key = await es256Key();
  const config = await keyConfig(key);
  const metadata = config.serverMetadata();
  const plainUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirect_uri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'plain',
  });
  const refused = expectRedirect(await new Browser().get(plainUrl), 'a plain request');
  const { tokens, claims } = await signIn(config, undefined, false, { key, kid: settings.kid });
  return {
    request_parameter_supported: metadata.request_parameter_supported,
    plain: {
      error: refused.searchParams.get('error'),
      error_description: refused.searchParams.get('error_description'),
      state: refused.searchParams.get('state'),
    },
    sub: claims.sub,
    token_type: tokens.token_type,
  };
}

/**
 * DPoP (RFC 9449): one key pair binds every access token — client_credentials, the code
 * flow, a refresh — and proves possession at UserInfo. openid-client keeps the provider's
 * nonces per handle and retries once on `use_dpop_nonce`; UserInfo gets a handle of its own
 * (same key, no nonce yet), so a provider requiring nonces challenges it there too. The
 * access token sent as a Bearer token is refused.
 */
async function dpop() {
  const counter = { jwks: 0, dpop: [] };
  const keyPair = await client.randomDPoPKeyPair('ES256');

  const service = await configure(counter, settings.service_id, settings.service_secret);
  const serviceTokens = await client.clientCredentialsGrant(
    service,
    { scope: 'read' },
    { DPoP: client.getDPoPHandle(service, keyPair) },
  );

  const config = await configure(counter);
  const DPoP = client.getDPoPHandle(config, keyPair);
  const jkt = await DPoP.calculateThumbprint();
  const { tokens, claims } = await signIn(config, { DPoP });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub, {
    DPoP: client.getDPoPHandle(config, keyPair),
  });
  const introspected = await client.tokenIntrospection(config, refreshed.access_token);

  const asBearer = await fetch(config.serverMetadata().userinfo_endpoint, {
    headers: { authorization: `Bearer ${refreshed.access_token}` },
  });
  return {
    token_types: [serviceTokens.token_type, tokens.token_type, refreshed.token_type],
    jkt,
    introspected: { active: introspected.active, token_type: introspected.token_type, cnf: introspected.cnf },
    sub: userinfo.sub,
    bearer: { status: asBearer.status, challenge: asBearer.headers.get('www-authenticate') },
    dpop_requests: counter.dpop,
  };
}

/**
 * Pushed authorization requests (RFC 9126) on a provider that requires them: a request sent
 * through the browser is refused (redirected with `invalid_request`); one pushed with
 * buildAuthorizationUrlWithPAR signs in, without DPoP (a Bearer token) and with DPoP, whose
 * proof at the PAR endpoint binds the code (RFC 9449 §10.1).
 */
async function par() {
  const counter = { jwks: 0, dpop: [] };
  const config = await configure(counter);
  const metadata = config.serverMetadata();
  const front = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirect_uri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'front',
  });
  const refused = expectRedirect(await new Browser().get(front), 'front channel');

  const plain = await signIn(config, undefined, true);
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const bound = await signIn(config, { DPoP }, true);
  const introspected = await client.tokenIntrospection(config, bound.tokens.access_token);
  return {
    endpoint: metadata.pushed_authorization_request_endpoint,
    required: metadata.require_pushed_authorization_requests,
    refused: { error: refused.searchParams.get('error'), state: refused.searchParams.get('state') },
    token_types: [plain.tokens.token_type, bound.tokens.token_type],
    sub: bound.claims.sub,
    jkt: await DPoP.calculateThumbprint(),
    cnf: introspected.cnf,
    dpop_requests: counter.dpop,
  };
}

/**
 * FAPI 2.0 (a client held to the profile, `profile = "fapi2"`, that also requires signed
 * request objects): its request through the browser alone is refused, a pushed request that
 * is not a signed request object is refused, and one signed (JAR), pushed (PAR) with a DPoP
 * proof signs in with a DPoP-bound token, the client authenticating by `private_key_jwt`.
 */
async function fapi() {
  const key = await es256Key();
  const config = await keyConfig(key);
  const parameters = {
    redirect_uri: settings.redirect_uri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: 'front',
  };
  const front = client.buildAuthorizationUrl(config, parameters);
  const refused = expectRedirect(await new Browser().get(front), 'front channel');
  let plainPush;
  try {
    await client.buildAuthorizationUrlWithPAR(config, parameters);
    plainPush = 'accepted';
  } catch (error) {
    plainPush = { error: error.error, error_description: error.error_description, status: error.status };
  }
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { tokens, claims } = await signIn(config, { DPoP }, true, { key, kid: settings.kid });
  return {
    front: {
      error: refused.searchParams.get('error'),
      error_description: refused.searchParams.get('error_description'),
      state: refused.searchParams.get('state'),
    },
    plain_push: plainPush,
    sub: claims.sub,
    token_type: tokens.token_type,
  };
}

/**
 * Response modes: a form post (OAuth 2.0 Form Post Response Mode) and signed responses
 * (JARM) that openid-client verifies (signature against the JWKS, iss, aud, exp) before it
 * reads the code, state and iss inside. Each run: which parameters reached the callback, and
 * the signed-in subject.
 */
async function modes() {
  const runs = {};
  for (const mode of ['form_post', 'jwt', 'form_post.jwt']) {
    const config = await configure({ jwks: 0 });
    if (mode.endsWith('jwt')) {
      client.useJwtResponseMode(config);
    }
    // useJwtResponseMode asks for `jwt`; a form post of a JWT is asked for by name.
    const extra = mode === 'jwt' ? {} : { response_mode: mode };
    const { claims, received } = await signIn(config, undefined, false, undefined, extra);
    runs[mode] = { sub: claims.sub, received };
  }
  return { runs };
}

/**
 * The device authorization grant (RFC 8628) of a public client: openid-client asks for the
 * codes, the browser enters the user code at verification_uri_complete, signs in and
 * consents, then openid-client polls for the tokens. What discovery said, and the tokens.
 */
async function device() {
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    undefined,
    client.None(),
    { execute: [client.allowInsecureRequests] },
  );
  const metadata = config.serverMetadata();
  const started = await client.initiateDeviceAuthorization(config, { scope: 'read' });
  check(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/.test(started.user_code), `user code ${started.user_code}`);
  const browser = new Browser();
  const entry = expectPage(await browser.get(started.verification_uri_complete), '/device', 'code entry');
  const userCode = new URL(started.verification_uri_complete).searchParams.get('user_code');
  const login = expectPage(await browser.submit(entry, { single: { user_code: userCode } }), '/device/login', 'device sign-in');
  const consent = expectPage(
    await browser.submit(login, { single: { username: settings.username, password: settings.password } }),
    '/device/consent',
    'device consent',
  );
  const done = await browser.submit(consent, {
    single: { decision: 'approve' },
    repeated: consent.scopes.map((s) => ['scope', s]),
  });
  check(done.status === 200, `device consent answered ${done.status}: ${done.body}`);
  const tokens = await client.pollDeviceAuthorizationGrant(config, started);
  return {
    endpoint: metadata.device_authorization_endpoint,
    grant_listed: metadata.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'),
    interval: started.interval,
    scope: tokens.scope,
    token_type: tokens.token_type,
  };
}

try {
  const phases = { phase1, phase2, register, jwt_auth: jwtAuth, token_exchange: tokenExchange, register_key: registerKey, jar, dpop, par, modes, fapi, device };
  check(phase in phases, `unknown phase ${phase}`);
  const result = await phases[phase]();
  process.stdout.write(`${JSON.stringify({ phase, ...result })}\n`);
} catch (error) {
  process.stderr.write(`${phase}: ${error?.stack ?? error}\n`);
  if (error?.cause !== undefined) {
    process.stderr.write(`cause: ${JSON.stringify(error.cause)}\n`);
  }
  process.exit(1);
}
