// @ts-check
/**
 * The HTTP client of the API (docs/api.md), reached through nginx under `/api/` on the same origin.
 * Every failure becomes an {@link ApiError}; callers never parse responses themselves.
 */

/**
 * @typedef {object} Task
 * @property {string} id
 * @property {string} title
 * @property {boolean} done
 * @property {string} created_at
 * @property {string | null} done_at
 */

/**
 * @typedef {object} FieldError
 * @property {string} field  the body field it is about ("email", "title", ...) or "" when unknown
 * @property {string} message
 */

/**
 * @typedef {object} TaskPage
 * @property {Task[]} items
 * @property {number} total  tasks matching the filter, ignoring paging
 * @property {{ active: number, done: number }} counts  all the user's tasks, whatever the filter
 */

const PROBLEM_JSON = 'application/problem+json';

export class ApiError extends Error {
  /**
   * @param {object} init
   * @param {number} init.status  HTTP status, 0 when the server could not be reached
   * @param {string} init.message  the server's human-readable message, if any
   * @param {FieldError[]} [init.fields]
   * @param {number | null} [init.retryAfter]  seconds, from `Retry-After`
   */
  constructor({ status, message, fields = [], retryAfter = null }) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

/**
 * The API's one error shape, RFC 9457 problem details (`application/problem+json`).
 * @typedef {object} Problem
 * @property {string} type
 * @property {string} title
 * @property {number} status
 * @property {string} detail
 * @property {{ loc: (string | number)[], msg: string, type: string }[]} [errors]  on a 422
 */

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
const isRecord = (value) => typeof value === 'object' && value !== null;

/**
 * @param {unknown} value
 * @returns {value is Problem}
 */
function isProblem(value) {
  if (!isRecord(value)) return false;
  const { title, status, detail, errors } = value;
  const isFieldError = (/** @type {unknown} */ item) =>
    isRecord(item) && Array.isArray(item.loc) && typeof item.msg === 'string';
  return (
    typeof title === 'string' &&
    typeof status === 'number' &&
    typeof detail === 'string' &&
    (errors === undefined || (Array.isArray(errors) && errors.every(isFieldError)))
  );
}

/**
 * Reads a problem details body; anything else (a proxy's HTML error page) says nothing.
 * @param {unknown} body
 * @returns {{ message: string, fields: FieldError[] }}
 */
export function parseProblem(body) {
  if (!isProblem(body)) return { message: '', fields: [] };
  return { message: body.detail, fields: (body.errors ?? []).map(toFieldError) };
}

/**
 * @param {{ loc: (string | number)[], msg: string }} error
 * @returns {FieldError}
 */
function toFieldError({ loc, msg }) {
  // The location starts with the source (`["body", "email"]`); the field is its last name.
  const named = loc.filter(
    (part) => typeof part === 'string' && part !== 'body' && part !== 'query',
  );
  return { field: String(named.at(-1) ?? ''), message: msg };
}

/**
 * @param {string | null} header
 * @returns {number | null}
 */
function parseRetryAfter(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

export class Api {
  /**
   * @param {object} init
   * @param {string} [init.baseUrl]
   * @param {() => string | null} init.getToken
   * @param {typeof fetch} [init.fetchImpl]
   */
  constructor({ baseUrl = '/api', getToken, fetchImpl = fetch.bind(globalThis) }) {
    this.baseUrl = baseUrl;
    this.getToken = getToken;
    this.fetchImpl = fetchImpl;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {{ body?: unknown, auth?: boolean, signal?: AbortSignal }} [options]  `signal`
   *   cancels the request; the promise then rejects with the signal's reason, not an ApiError
   * @returns {Promise<Response>}
   */
  async request(method, path, { body, auth = true, signal } = {}) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = auth ? this.getToken() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    /** @type {RequestInit} */
    const init = {
      method,
      headers,
      cache: 'no-store',
      // A change sent just before a reload or a closed tab still reaches the server.
      keepalive: method !== 'GET',
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    let response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch {
      if (signal?.aborted) throw signal.reason;
      throw new ApiError({ status: 0, message: '' });
    }
    if (response.ok) return response;
    let parsed = parseProblem(null);
    // nginx's own error pages (413, 502, 504) are HTML: the status alone says enough.
    if (response.headers.get('Content-Type')?.startsWith(PROBLEM_JSON)) {
      try {
        parsed = parseProblem(await response.json());
      } catch {
        // A body cut short by a lost connection: the status still says what happened.
      }
    }
    throw new ApiError({
      status: response.status,
      message: parsed.message,
      fields: parsed.fields,
      retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
    });
  }

  /**
   * @param {string} email
   * @param {string} password
   * @returns {Promise<{ id: string, email: string }>}
   */
  async register(email, password) {
    const response = await this.request('POST', '/auth/register', {
      body: { email, password },
      auth: false,
    });
    return response.json();
  }

  /**
   * @param {string} email
   * @param {string} password
   * @returns {Promise<{ access_token: string, token_type: string, expires_in: number }>}
   */
  async login(email, password) {
    const response = await this.request('POST', '/auth/login', {
      body: { email, password },
      auth: false,
    });
    return response.json();
  }

  /**
   * One page of tasks and the counts, from one request.
   * @param {{ done?: boolean, limit: number, offset: number, signal?: AbortSignal }} query
   * @returns {Promise<TaskPage>}
   */
  async listTasks({ done, limit, offset, signal }) {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (done !== undefined) params.set('done', String(done));
    const response = await this.request('GET', `/tasks?${params}`, signal ? { signal } : {});
    const items = /** @type {Task[]} */ (await response.json());
    /** @param {string} name */
    const count = (name) => {
      const value = Number(response.headers.get(name));
      if (response.headers.has(name) && Number.isInteger(value) && value >= 0) return value;
      throw new ApiError({ status: response.status, message: `The answer lacks ${name}` });
    };
    return {
      items,
      total: count('X-Total-Count'),
      counts: { active: count('X-Open-Count'), done: count('X-Done-Count') },
    };
  }

  /**
   * @param {string} title
   * @returns {Promise<Task>}
   */
  async createTask(title) {
    return (await this.request('POST', '/tasks', { body: { title } })).json();
  }

  /**
   * @param {string} id
   * @param {{ title?: string, done?: boolean }} changes
   * @returns {Promise<Task>}
   */
  async updateTask(id, changes) {
    return (
      await this.request('PATCH', `/tasks/${encodeURIComponent(id)}`, { body: changes })
    ).json();
  }

  /**
   * @param {string} id
   * @returns {Promise<void>}
   */
  async deleteTask(id) {
    await this.request('DELETE', `/tasks/${encodeURIComponent(id)}`);
  }
}
