// A plain in-memory store for oidc-provider, the counterpart of Portcullis's memory store in
// the HTTP benchmark (bench/http/run).
//
// oidc-provider's bundled MemoryAdapter is meant for development: it keeps at most 1000
// entries (an LRU), so the thousands of tokens a benchmark run issues would evict the
// session, the grant and the tokens minted for the later cases. This adapter keeps every
// entry in Maps, indexes grants, session uids and user codes, and forgets an entry once it
// has expired: what a production adapter over Redis does, without the network.

const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms, or Infinity) }
const grants = new Map(); // grantId -> Set of entry keys
const sessionUids = new Map(); // session uid -> session id
const userCodes = new Map(); // user code -> device code id

const grantable = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

function live(key) {
  const entry = entries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.payload;
}

export default class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(key, { payload, expiresAt });
    if (this.model === 'Session') sessionUids.set(payload.uid, id);
    if (payload.userCode) userCodes.set(payload.userCode, id);
    if (grantable.has(this.model) && payload.grantId) {
      let members = grants.get(payload.grantId);
      if (members === undefined) {
        members = new Set();
        grants.set(payload.grantId, members);
      }
      members.add(key);
    }
  }

  async find(id) {
    return live(this.key(id));
  }

  async findByUid(uid) {
    const id = sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const entry = entries.get(key);
    entries.delete(key);
    if (entry?.payload.grantId) grants.get(entry.payload.grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    const members = grants.get(grantId);
    if (members === undefined) return;
    for (const key of members) entries.delete(key);
    grants.delete(grantId);
  }
}
