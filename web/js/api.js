/**
 * The HTTP client of the API (SPEC §5–§6), reached through nginx under `/api/` on the same origin.
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

/** @typedef {{ items: Task[], total: number }} TaskPage */

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
 * Reads an error body in the project's shape or FastAPI's default ones:
 * `{detail: "text"}`, `{detail: [{loc, msg}]}`, or `{message|detail, errors|fields: [...]}`.
 * @param {unknown} body
 * @returns {{ message: string, fields: FieldError[] }}
 */
export function parseErrorBody(body) {
  if (typeof body === 'string') return { message: body, fields: [] };
  if (!body || typeof body !== 'object') return { message: '', fields: [] };
  const record = /** @type {Record<string, unknown>} */ (body);
  const nested =
    record.error && typeof record.error === 'object' ? parseErrorBody(record.error) : null;
  /** @type {FieldError[]} */
  const fields = [];
  let message = '';
  for (const key of ['message', 'detail', 'title', 'error']) {
    if (typeof record[key] === 'string' && !message) message = /** @type {string} */ (record[key]);
  }
  for (const key of ['detail', 'errors', 'fields', 'details']) {
    if (Array.isArray(record[key])) fields.push(...record[key].map(toFieldError));
  }
  if (nested) {
    message ||= nested.message;
    fields.push(...nested.fields);
  }
  return { message, fields };
}

/**
 * @param {unknown} item
 * @returns {FieldError}
 */
function toFieldError(item) {
  if (typeof item === 'string') return { field: '', message: item };
  const record = /** @type {Record<string, unknown>} */ (item ?? {});
  const loc = Array.isArray(record.loc) ? record.loc : [];
  // FastAPI puts the source first (`["body", "email"]`); the field is the last named part.
  const named = loc.filter(
    (part) => typeof part === 'string' && part !== 'body' && part !== 'query',
  );
  const field = typeof record.field === 'string' ? record.field : String(named.at(-1) ?? '');
  const message = String(record.msg ?? record.message ?? record.detail ?? 'is invalid');
  return { field, message };
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
   * @param {{ body?: unknown, auth?: boolean }} [options]
   * @returns {Promise<Response>}
   */
  async request(method, path, { body, auth = true } = {}) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = auth ? this.getToken() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        // A change sent just before a reload or a closed tab still reaches the server.
        keepalive: method !== 'GET',
      });
    } catch {
      throw new ApiError({ status: 0, message: '' });
    }
    if (response.ok) return response;
    let parsed = { message: '', fields: /** @type {FieldError[]} */ ([]) };
    try {
      parsed = parseErrorBody(await response.json());
    } catch {
      // A proxy error page (502/504) is HTML, not JSON: the status alone says enough.
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
   * @param {{ done?: boolean, limit: number, offset: number }} query
   * @returns {Promise<TaskPage>}
   */
  async listTasks({ done, limit, offset }) {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (done !== undefined) params.set('done', String(done));
    const response = await this.request('GET', `/tasks?${params}`);
    const items = /** @type {Task[]} */ (await response.json());
    const total = Number(response.headers.get('X-Total-Count'));
    return { items, total: Number.isFinite(total) ? total : items.length };
  }

  /**
   * @param {boolean} done
   * @returns {Promise<number>}
   */
  async countTasks(done) {
    return (await this.listTasks({ done, limit: 1, offset: 0 })).total;
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
