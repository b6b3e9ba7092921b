/**
 * Composition root: builds the adapters (API client, session, store, view) and wires them to
 * the controller. Nothing else in the app constructs its own collaborators.
 */
import { Api } from './api.js';
import { Controller } from './controller.js';
import { Session } from './session.js';
import { Store } from './store.js';
import { View } from './view.js';

const session = new Session(window.localStorage);
const api = new Api({ baseUrl: '/api', getToken: () => session.token });
const controller = new Controller({ api, session, store: new Store(), view: new View() });
controller.start();
