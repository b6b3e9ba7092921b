// @ts-check
/**
 * The client-side state: the tasks loaded so far for the current filter, and the counts.
 * Every optimistic change returns its own undo, so a refused request rolls back only itself,
 * not changes made (and accepted) in the meantime.
 */

/** @typedef {import('./api.js').Task} Task */
/** @typedef {'all' | 'active' | 'done'} Filter */
/**
 * @typedef {Task & { pending?: boolean, local?: boolean }} Item  a task; `pending` while its
 * creation is in flight, `local` when added here rather than received in a page
 */

/**
 * @typedef {object} State
 * @property {Filter} filter
 * @property {Item[]} items  in the order of `GET /tasks` (oldest first), then the ones added here
 * @property {{ active: number, done: number }} counts
 * @property {'idle' | 'loading' | 'loading-more'} loading
 * @property {boolean} loaded  whether the first page of this filter has arrived
 */

export const FILTERS = /** @type {const} */ (['all', 'active', 'done']);

/**
 * @param {Item} item
 * @param {Filter} filter
 * @returns {boolean}
 */
export function matches(item, filter) {
  return filter === 'all' || (filter === 'done') === item.done;
}

export class Store {
  constructor() {
    /** @type {State} */
    this.state = {
      filter: 'all',
      items: [],
      counts: { active: 0, done: 0 },
      loading: 'idle',
      loaded: false,
    };
    /** @type {Set<(state: State) => void>} */
    this.listeners = new Set();
    this.nextTemporaryId = 1;
  }

  /** @param {(state: State) => void} listener */
  subscribe(listener) {
    this.listeners.add(listener);
  }

  /** @param {Partial<State>} changes */
  set(changes) {
    this.state = { ...this.state, ...changes };
    for (const listener of this.listeners) listener(this.state);
  }

  /** @returns {Item[]} the items the current filter shows */
  visible() {
    return this.state.items.filter((item) => matches(item, this.state.filter));
  }

  /** @returns {number} how many tasks the current filter has on the server */
  filterTotal() {
    const { active, done } = this.state.counts;
    return { all: active + done, active, done }[this.state.filter];
  }

  /**
   * Where the next page starts: the rows of this filter received in pages and still here.
   * Tasks added here sort after every older one, so they are not part of the pages seen so far.
   * @returns {number}
   */
  nextOffset() {
    return this.visible().filter((item) => !item.local).length;
  }

  /** @returns {boolean} */
  hasMore() {
    return this.state.loaded && this.filterTotal() > this.visible().length;
  }

  /** @returns {Item | undefined} */
  find(/** @type {string} */ id) {
    return this.state.items.find((item) => item.id === id);
  }

  /** @param {Filter} filter */
  startLoading(filter) {
    this.set({ filter, items: [], loading: 'loading', loaded: false });
  }

  /**
   * @param {object} page
   * @param {Task[]} page.items
   * @param {{ active: number, done: number }} [page.counts]
   * @param {boolean} page.append
   */
  receivePage({ items, counts, append }) {
    // A page may bring a task added here (it now belongs to the pages): the page's copy wins.
    const inPage = new Set(items.map((item) => item.id));
    const kept = append ? this.state.items.filter((item) => !inPage.has(item.id)) : [];
    const received = kept.filter((item) => !item.local);
    const added = kept.filter((item) => item.local);
    this.set({
      items: [...received, ...items, ...added],
      counts: counts ?? this.state.counts,
      loading: 'idle',
      loaded: true,
    });
  }

  /**
   * @param {string} title
   * @returns {string} the temporary id of the pending item
   */
  addPending(title) {
    const id = `pending-${this.nextTemporaryId++}`;
    /** @type {Item} */
    const item = {
      id,
      title,
      done: false,
      created_at: new Date().toISOString(),
      done_at: null,
      pending: true,
      local: true,
    };
    this.set({
      items: [...this.state.items, item],
      counts: { ...this.state.counts, active: this.state.counts.active + 1 },
    });
    return id;
  }

  /**
   * @param {string} temporaryId
   * @param {Task} task
   */
  confirmAdd(temporaryId, task) {
    this.set({
      items: this.state.items.map((item) =>
        item.id === temporaryId ? { ...task, local: true } : item,
      ),
    });
  }

  /** @param {string} temporaryId */
  dropPending(temporaryId) {
    if (!this.find(temporaryId)) return;
    this.set({
      items: this.state.items.filter((item) => item.id !== temporaryId),
      counts: { ...this.state.counts, active: this.state.counts.active - 1 },
    });
  }

  /**
   * @param {string} id
   * @param {Partial<Task>} changes
   */
  patch(id, changes) {
    this.set({
      items: this.state.items.map((item) => (item.id === id ? { ...item, ...changes } : item)),
    });
  }

  /**
   * @param {string} id
   * @param {boolean} done
   * @returns {() => void} the undo
   */
  setDone(id, done) {
    const before = this.find(id);
    if (!before || before.done === done) return () => {};
    const shift = (/** @type {boolean} */ toDone) => {
      const { active, done: finished } = this.state.counts;
      const delta = toDone ? 1 : -1;
      return { active: active - delta, done: finished + delta };
    };
    this.set({
      items: this.state.items.map((item) =>
        item.id === id ? { ...item, done, done_at: done ? new Date().toISOString() : null } : item,
      ),
      counts: shift(done),
    });
    return () => {
      if (!this.find(id)) return;
      this.set({
        items: this.state.items.map((item) =>
          item.id === id ? { ...item, done: before.done, done_at: before.done_at } : item,
        ),
        counts: shift(before.done),
      });
    };
  }

  /**
   * @param {string} id
   * @param {string} title
   * @returns {() => void} the undo
   */
  rename(id, title) {
    const before = this.find(id);
    if (!before) return () => {};
    this.patch(id, { title });
    return () => {
      if (this.find(id)) this.patch(id, { title: before.title });
    };
  }

  /**
   * @param {string} id
   * @returns {() => void} the undo: puts the task back where it was
   */
  remove(id) {
    const index = this.state.items.findIndex((item) => item.id === id);
    if (index < 0) return () => {};
    const removed = this.state.items[index];
    const key = removed.done ? 'done' : 'active';
    this.set({
      items: this.state.items.filter((item) => item.id !== id),
      counts: { ...this.state.counts, [key]: this.state.counts[key] - 1 },
    });
    return () => {
      const items = [...this.state.items];
      items.splice(Math.min(index, items.length), 0, removed);
      this.set({ items, counts: { ...this.state.counts, [key]: this.state.counts[key] + 1 } });
    };
  }
}
