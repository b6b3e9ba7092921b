// @ts-check
/**
 * Which answers still count: the latest request wins. A screen (one filter of one session's
 * task list) begins with `nextScreen`, which aborts every request of the previous screen; within
 * a screen, `begin(key)` aborts the previous request of the same key. A read hands its ticket's
 * signal to `fetch`, so a stale read is cancelled; a change does not, because it may already
 * have reached the server, and only asks its ticket before applying the answer.
 */

export class Ticket {
  /**
   * @param {AbortSignal} signal  aborted once a later request of the same key (or screen) begins
   * @param {AbortSignal} screen  aborted once the screen this began on is left
   */
  constructor(signal, screen) {
    this.signal = signal;
    this.screen = screen;
  }

  /** @returns {boolean} whether no later request of its key has begun on this screen */
  get latest() {
    return !this.signal.aborted;
  }

  /** @returns {boolean} whether the screen it began on is still showing */
  get onScreen() {
    return !this.screen.aborted;
  }
}

export class RequestTracker {
  constructor() {
    this.screen = new AbortController();
    /** @type {Map<string, AbortController>} the latest request of each key on this screen */
    this.byKey = new Map();
    /** @type {Set<Promise<unknown>>} changes sent and not yet answered */
    this.changes = new Set();
    /** @type {Promise<void>} the current screen's first load */
    this.loading = Promise.resolve();
  }

  /**
   * Leaves the current screen (its reads are cancelled, its answers ignored) and loads the next.
   * @param {(ticket: Ticket) => Promise<void>} load
   * @returns {Promise<void>} the load, also awaited by {@link loaded}
   */
  nextScreen(load) {
    this.abortScreen();
    this.loading = load(this.onScreen());
    return this.loading;
  }

  /** Leaves the current screen for none (log-out): nothing of it counts any more. */
  leave() {
    this.abortScreen();
    // The old session's changes must not hold up the next session's first load.
    this.changes.clear();
    this.loading = Promise.resolve();
  }

  abortScreen() {
    this.screen.abort();
    this.byKey.clear();
    this.screen = new AbortController();
  }

  /** Settles once the current screen's first load has, even if another screen began meanwhile. */
  async loaded() {
    let current;
    do {
      current = this.loading;
      await current;
    } while (current !== this.loading);
  }

  /** @returns {Ticket} for a request that only needs to know whether its screen is still showing */
  onScreen() {
    return new Ticket(this.screen.signal, this.screen.signal);
  }

  /**
   * Begins request `key` on the current screen; the previous request of that key is superseded.
   * @param {string} key
   * @returns {Ticket}
   */
  begin(key) {
    this.byKey.get(key)?.abort();
    const own = new AbortController();
    this.byKey.set(key, own);
    return new Ticket(AbortSignal.any([own.signal, this.screen.signal]), this.screen.signal);
  }

  /**
   * Remembers a change until it is answered, so a first load can wait for it.
   * @template T
   * @param {Promise<T>} change
   * @returns {Promise<T>} the same promise
   */
  track(change) {
    this.changes.add(change);
    const forget = () => this.changes.delete(change);
    change.then(forget, forget);
    return change;
  }

  /** @returns {Promise<void>} settles once every change sent so far is answered */
  async changesSettled() {
    await Promise.allSettled([...this.changes]);
  }
}
