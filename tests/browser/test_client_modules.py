"""The client's pure modules, run in the browser that runs the app (no Node needed)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.browser


async def run(page: Page, module: str, body: str) -> Any:
    """Evaluate `body` (an async function of the imported module `m`) in the page."""
    return await page.evaluate(f"import('/js/{module}').then(async (m) => {{ {body} }})")


async def test_a_problem_details_body_gives_the_message_and_the_fields(page: Page) -> None:
    parsed = await run(
        page,
        "api.js",
        """
        return [
          m.parseProblem({
            type: 'about:blank', title: 'Unprocessable Entity', status: 422,
            detail: 'The request is not valid',
            errors: [{loc: ['body', 'password'], msg: 'String too short', type: 't'}],
          }),
          m.parseProblem({
            type: 'about:blank', title: 'Not Found', status: 404, detail: 'Task not found',
          }),
        ];
        """,
    )
    assert parsed == [
        {
            "message": "The request is not valid",
            "fields": [{"field": "password", "message": "String too short"}],
        },
        {"message": "Task not found", "fields": []},
    ]


async def test_bodies_in_any_other_shape_are_not_read(page: Page) -> None:
    parsed = await run(
        page,
        "api.js",
        """
        return [
          {detail: [{loc: ['body', 'email'], msg: 'not a valid email', type: 'x'}]},
          {detail: 'Not authenticated'},
          {message: 'nope', errors: [{field: 'title', message: 'too long'}]},
          '<html>502 Bad Gateway</html>',
          null,
        ].map(m.parseProblem);
        """,
    )
    assert parsed == [{"message": "", "fields": []}] * 5


async def test_messages_name_the_problem_and_the_wait(page: Page) -> None:
    messages = await run(
        page,
        "messages.js",
        """
        const {ApiError} = await import('/js/api.js');
        const said = (status, context, extra = {}) =>
          m.describeError(new ApiError({status, message: '', ...extra}), context).summary;
        return {
          taken: said(409, 'register'),
          wrong: said(401, 'login'),
          limited: said(429, 'login', {retryAfter: 42}),
          offline: said(0, 'task'),
          gateway: said(502, 'task'),
          invalid: said(422, 'task', {fields: [{field: 'title', message: 'string too long'}]}),
        };
        """,
    )
    assert messages == {
        "taken": "An account with this email already exists. Log in instead.",
        "wrong": "Wrong email or password.",
        "limited": "Too many attempts. Try again in 42 seconds.",
        "offline": "Can't reach the server. Check your connection and try again.",
        "gateway": "The server is having trouble (error 502). Please try again shortly.",
        "invalid": "Title: String too long.",
    }


async def test_an_undo_restores_only_its_own_change(page: Page) -> None:
    result = await run(
        page,
        "store.js",
        """
        const store = new m.Store();
        const task = (id, done = false) => ({id, title: id, done, created_at: '', done_at: null});
        store.receivePage({items: [task('a'), task('b'), task('c', true)],
                           counts: {active: 2, done: 1}, append: false});
        const undoDelete = store.remove('a');
        store.rename('b', 'b renamed');
        const undoComplete = store.setDone('b', true);
        undoDelete();
        const afterDelete = store.state.items.map((t) => t.title);
        undoComplete();
        return {afterDelete, counts: store.state.counts, b: store.find('b')};
        """,
    )
    assert result["afterDelete"] == ["a", "b renamed", "c"]
    assert result["counts"] == {"active": 2, "done": 1}
    assert result["b"]["done"] is False
    assert result["b"]["title"] == "b renamed"


async def test_the_next_page_starts_after_the_pages_seen_not_after_local_additions(
    page: Page,
) -> None:
    offsets = await run(
        page,
        "store.js",
        """
        const store = new m.Store();
        const task = (id, done = false) => ({id, title: id, done, created_at: '', done_at: null});
        store.startLoading('active');
        store.receivePage({
          items: [task('a'), task('b')], counts: {active: 5, done: 0}, append: false,
        });
        const seen = [store.nextOffset()];
        store.addPending('new');
        seen.push(store.nextOffset());
        store.setDone('a', true);  // leaves the active filter: the server's pages shift by one
        seen.push(store.nextOffset());
        return {seen, hasMore: store.hasMore()};
        """,
    )
    assert offsets == {"seen": [2, 2, 1], "hasMore": True}


async def test_a_page_of_tasks_brings_the_counts_from_its_headers(page: Page) -> None:
    result = await run(
        page,
        "api.js",
        """
        const seen = [];
        const fetchImpl = async (url) => {
          seen.push(url);
          return new Response('[]', {headers: {
            'Content-Type': 'application/json',
            'X-Total-Count': '2', 'X-Open-Count': '2', 'X-Done-Count': '5',
          }});
        };
        const api = new m.Api({getToken: () => 't', fetchImpl});
        const page = await api.listTasks({done: false, limit: 50, offset: 0});
        return {seen, page};
        """,
    )
    assert result == {
        "seen": ["/api/tasks?limit=50&offset=0&done=false"],
        "page": {"items": [], "total": 2, "counts": {"active": 2, "done": 5}},
    }


async def test_only_a_problem_details_answer_is_read_for_the_reason(page: Page) -> None:
    errors = await run(
        page,
        "api.js",
        """
        const answers = [
          new Response(JSON.stringify({
            type: 'about:blank', title: 'Conflict', status: 409, detail: 'Already done',
          }), {status: 409, headers: {'Content-Type': 'application/problem+json'}}),
          new Response(JSON.stringify({detail: 'FastAPI default'}),
                       {status: 409, headers: {'Content-Type': 'application/json'}}),
          new Response('<html>Bad Gateway</html>',
                       {status: 502, headers: {'Content-Type': 'text/html'}}),
        ];
        const api = new m.Api({getToken: () => 't', fetchImpl: async () => answers.shift()});
        const caught = [];
        for (let i = 0; i < 3; i += 1) {
          await api.deleteTask('x').catch((e) => caught.push([e.name, e.status, e.message]));
        }
        return caught;
        """,
    )
    assert errors == [
        ["ApiError", 409, "Already done"],
        ["ApiError", 409, "HTTP 409"],
        ["ApiError", 502, "HTTP 502"],
    ]


async def test_a_cancelled_request_is_an_abort_not_an_api_error(page: Page) -> None:
    name = await run(
        page,
        "api.js",
        """
        const fetchImpl = (url, init) => new Promise((_, reject) =>
          init.signal.addEventListener('abort', () => reject(init.signal.reason)));
        const api = new m.Api({getToken: () => 't', fetchImpl});
        const controller = new AbortController();
        const answer = api.listTasks({limit: 1, offset: 0, signal: controller.signal});
        controller.abort();
        return answer.then(() => 'answered', (error) => error.name);
        """,
    )
    assert name == "AbortError"


async def test_the_latest_request_of_a_key_wins_and_a_new_screen_supersedes_all(
    page: Page,
) -> None:
    result = await run(
        page,
        "requests.js",
        """
        const tracker = new m.RequestTracker();
        const first = tracker.begin('task:a');
        const other = tracker.begin('task:b');
        const second = tracker.begin('task:a');
        const before = [first.latest, first.onScreen, second.latest, other.latest];
        let screen;
        await tracker.nextScreen(async (ticket) => { screen = ticket; });
        return {
          before,
          after: [second.latest, second.onScreen, other.latest, screen.latest],
          firstSignalAborted: first.signal.aborted,
        };
        """,
    )
    assert result == {
        "before": [False, True, True, True],
        "after": [False, False, False, True],
        "firstSignalAborted": True,
    }


async def test_a_first_load_can_wait_for_the_changes_in_flight(page: Page) -> None:
    order = await run(
        page,
        "requests.js",
        """
        const tracker = new m.RequestTracker();
        const order = [];
        let answer;
        tracker.track(new Promise((resolve) => { answer = resolve; }))
          .then(() => order.push('change answered'));
        const loading = tracker.nextScreen(async () => {
          await tracker.changesSettled();
          order.push('page requested');
        });
        order.push('screen started');
        answer();
        await loading;
        await tracker.loaded();
        return order;
        """,
    )
    assert order == ["screen started", "change answered", "page requested"]
