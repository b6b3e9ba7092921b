// @ts-check
/**
 * The use cases: what happens when the user logs in, adds, renames, completes or deletes.
 * Changes are applied to the store first (optimistic) and undone when the API refuses them.
 */
import { ApiError } from './api.js';
import { describeError } from './messages.js';
import { RequestTracker } from './requests.js';

/** @typedef {import('./api.js').Api} Api */
/** @typedef {import('./session.js').Session} Session */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').Filter} Filter */
/** @typedef {import('./view.js').View} View */
/** @typedef {import('./auth-view.js').Credentials} Credentials */
/** @typedef {import('./requests.js').Ticket} Ticket */

const FILTER_NAMES = { all: 'all tasks', active: 'active tasks', done: 'done tasks' };

/**
 * @param {Filter} filter
 * @returns {{ done?: boolean }} the `done` query parameter for it, none for all
 */
function doneParam(filter) {
  return filter === 'all' ? {} : { done: filter === 'done' };
}

/** @param {string} title */
const quoted = (title) => `“${title}”`;

export class Controller {
  /**
   * @param {object} parts
   * @param {Api} parts.api
   * @param {Session} parts.session
   * @param {Store} parts.store
   * @param {View} parts.view
   * @param {number} [parts.pageSize]
   */
  constructor({ api, session, store, view, pageSize = 50 }) {
    this.api = api;
    this.session = session;
    this.store = store;
    this.view = view;
    this.pageSize = pageSize;
    this.expiryTimer = 0;
    this.requests = new RequestTracker();
    store.subscribe(() => this.render());
    view.bind({
      authenticate: (credentials) => this.authenticate(credentials),
      logout: () => this.logout(),
      add: (title) => this.add(title),
      toggle: (id, done) => this.toggle(id, done),
      rename: (id, title) => this.rename(id, title),
      remove: (id) => this.remove(id),
      loadMore: () => this.loadMore(),
    });
  }

  /** @param {Filter} filter  the one the page opened on */
  start(filter) {
    this.store.set({ filter });
    const status = this.session.status();
    if (status === 'valid') this.enterTasks();
    else if (status === 'expired') this.expire();
    else this.view.showAuth({});
  }

  render() {
    const { store } = this;
    this.view.tasks.render({
      filter: store.state.filter,
      items: store.visible(),
      counts: store.state.counts,
      loading: store.state.loading === 'loading',
      loadingMore: store.state.loading === 'loading-more',
      hasMore: store.hasMore(),
    });
  }

  /** @param {Credentials} credentials */
  async authenticate({ mode, email, password }) {
    const { auth } = this.view;
    auth.setBusy(true);
    let stage = mode;
    try {
      if (mode === 'register') {
        await this.api.register(email, password);
        stage = 'login';
      }
      const { access_token: token } = await this.api.login(email, password);
      this.session.start(token, email);
      this.view.announce(
        mode === 'register' ? 'Account created. You are logged in.' : 'You are logged in.',
      );
      this.enterTasks();
    } catch (error) {
      const { summary, fields } = describeError(error, stage);
      auth.showError(summary, fields);
    } finally {
      auth.setBusy(false);
    }
  }

  enterTasks() {
    this.view.showTasks(this.session.email);
    this.view.tasks.focusNewTitle();
    this.watchExpiry();
    this.loadFirstPage();
  }

  watchExpiry() {
    window.clearTimeout(this.expiryTimer);
    const remaining = this.session.remainingMs();
    // setTimeout overflows past ~24.8 days; tokens live far shorter, but guard anyway.
    if (remaining !== null && remaining < 2 ** 31) {
      this.expiryTimer = window.setTimeout(() => this.expire(), Math.max(0, remaining));
    }
  }

  logout() {
    this.leave();
    this.view.showAuth({ info: 'You have logged out. See you soon.' });
  }

  /** The token expired or the API rejected it: back to the login screen, with the reason. */
  expire() {
    const email = this.session.email;
    this.leave();
    this.view.showAuth({ info: 'Your session has expired. Please log in again.', email });
  }

  leave() {
    this.requests.leave();
    window.clearTimeout(this.expiryTimer);
    this.session.end();
    this.store.startLoading(this.store.state.filter);
  }

  /**
   * The user picked another filter (the URL hash changed).
   * @param {Filter} filter
   */
  showFilter(filter) {
    if (this.session.status() === 'none') this.store.set({ filter });
    else this.loadFirstPage(filter);
  }

  /**
   * A new screen: the first page of `filter` and both counts, in one request.
   * @param {Filter} [filter]
   */
  loadFirstPage(filter = this.store.state.filter) {
    return this.requests.nextScreen((ticket) => this.fetchFirstPage(filter, ticket));
  }

  /**
   * @param {Filter} filter
   * @param {Ticket} ticket
   */
  async fetchFirstPage(filter, ticket) {
    if (this.session.status() === 'none') return;
    this.view.clearTaskError();
    this.store.startLoading(filter);
    try {
      // Otherwise a change still in flight (a task just completed) could be missing from the page.
      await this.requests.changesSettled();
      if (!ticket.latest) return;
      const page = await this.api.listTasks({
        ...doneParam(filter),
        limit: this.pageSize,
        offset: 0,
        signal: ticket.signal,
      });
      if (!ticket.latest) return;
      this.store.receivePage({ items: page.items, counts: page.counts, append: false });
      this.view.announce(`Showing ${FILTER_NAMES[filter]}: ${this.store.filterTotal()}.`);
    } catch (error) {
      if (!ticket.latest) return;
      this.store.set({ loading: 'idle' });
      this.fail(error, "Couldn't load your tasks.");
    }
  }

  async loadMore() {
    const { store } = this;
    if (store.state.loading !== 'idle') return;
    const ticket = this.requests.begin('more');
    store.set({ loading: 'loading-more' });
    try {
      const page = await this.api.listTasks({
        ...doneParam(store.state.filter),
        limit: this.pageSize,
        offset: store.nextOffset(),
        signal: ticket.signal,
      });
      if (!ticket.latest) return;
      // The counts stay local: changes in flight may not be in this answer's counts yet.
      store.receivePage({ items: page.items, append: true });
      this.view.announce(`Loaded ${page.items.length} more.`);
    } catch (error) {
      if (!ticket.latest) return;
      store.set({ loading: 'idle' });
      this.fail(error, "Couldn't load more tasks.");
    }
  }

  /** @param {string} title */
  async add(title) {
    // The arriving first page replaces the list: a task added before it would vanish.
    await this.requests.loaded();
    if (this.session.status() === 'none') return;
    const ticket = this.requests.onScreen();
    const temporaryId = this.store.addPending(title);
    const where = this.store.state.filter === 'done' ? ' to Active' : '';
    this.view.announce(`Added ${quoted(title)}${where}.`);
    try {
      const task = await this.requests.track(this.api.createTask(title));
      if (ticket.onScreen) this.store.confirmAdd(temporaryId, task);
    } catch (error) {
      if (!ticket.onScreen) return;
      this.store.dropPending(temporaryId);
      this.view.tasks.restoreNewTitle(title);
      if (error instanceof ApiError && error.status === 422) {
        this.view.tasks.showAddError(describeError(error, 'task').summary);
        this.view.tasks.focusNewTitle();
      } else {
        this.fail(error, `Couldn't add ${quoted(title)}.`);
      }
    }
  }

  /**
   * @param {string} id
   * @param {boolean} done
   */
  async toggle(id, done) {
    const task = this.store.find(id);
    if (!task) return;
    if (this.store.state.filter !== 'all') this.view.tasks.keepPlaceAfterLeaving(id);
    const undo = this.store.setDone(id, done);
    this.view.announce(`${done ? 'Completed' : 'Reopened'} ${quoted(task.title)}.`);
    await this.send(
      id,
      () => this.api.updateTask(id, { done }),
      undo,
      `Couldn't ${done ? 'complete' : 'reopen'} ${quoted(task.title)}.`,
    );
  }

  /**
   * @param {string} id
   * @param {string} title
   */
  async rename(id, title) {
    const task = this.store.find(id);
    if (!task) return;
    const undo = this.store.rename(id, title);
    this.view.announce(`Renamed ${quoted(task.title)} to ${quoted(title)}.`);
    await this.send(
      id,
      () => this.api.updateTask(id, { title }),
      undo,
      `Couldn't rename ${quoted(task.title)}.`,
    );
  }

  /** @param {string} id */
  async remove(id) {
    const task = this.store.find(id);
    if (!task) return;
    const undo = this.store.remove(id);
    this.view.announce(`Deleted ${quoted(task.title)}.`);
    await this.send(
      id,
      () => this.api.deleteTask(id),
      undo,
      `Couldn't delete ${quoted(task.title)}.`,
    );
  }

  /**
   * Sends one change of task `id`; on refusal undoes it and says why.
   * @param {string} id
   * @param {() => Promise<import('./api.js').Task | void>} request
   * @param {() => void} undo
   * @param {string} failure  what could not be done, as a sentence
   */
  async send(id, request, undo, failure) {
    const ticket = this.requests.begin(`task:${id}`);
    try {
      const saved = await this.requests.track(request());
      // Only the latest change's answer may overwrite the task: earlier ones are already stale.
      if (ticket.latest && saved) this.store.patch(id, saved);
    } catch (error) {
      // A refused change undoes itself even when a later one for this task is still in flight.
      if (!ticket.onScreen) return;
      if (error instanceof ApiError && error.status === 404) {
        undo();
        this.store.remove(id);
        this.fail(error, failure);
        return;
      }
      undo();
      this.fail(error, failure, { undone: true });
    }
  }

  /**
   * @param {unknown} error
   * @param {string} what  the sentence saying what failed
   * @param {{ undone?: boolean }} [options]  whether an optimistic change was rolled back
   */
  fail(error, what, { undone = false } = {}) {
    if (error instanceof ApiError && error.status === 401) {
      this.expire();
      return;
    }
    const why = describeError(error, 'task').summary;
    this.view.showTaskError(`${what} ${why}${undone ? ' The change was undone.' : ''}`);
  }
}
