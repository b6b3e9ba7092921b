// @ts-check
/**
 * Composition root: builds the adapters (API client, session, store, view), hands them to the
 * controller and feeds it the page's events (the filter in the URL hash). Nothing else in the
 * app constructs its own collaborators or listens to `window`.
 */
import { Api } from './api.js';
import { Controller } from './controller.js';
import { filterFromHash } from './router.js';
import { Session } from './session.js';
import { SettingsPanel, sendBrowserZoneOnRegister } from './settings-view.js';
import { Store } from './store.js';
import { View } from './view.js';

const session = new Session(window.localStorage);
const api = new Api({ baseUrl: '/api', getToken: () => session.token });
sendBrowserZoneOnRegister(api);
const controller = new Controller({ api, session, store: new Store(), view: new View() });
window.addEventListener('hashchange', () =>
  controller.showFilter(filterFromHash(window.location.hash)),
);
controller.start(filterFromHash(window.location.hash));
new SettingsPanel({ api }).mount();
