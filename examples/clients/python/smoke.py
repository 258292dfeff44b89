"""The generated Python client against a running ttp (`make clients` runs it).

    PYTHONPATH=target/clients/python python smoke.py BASE_URL [API_KEY]

Submits an `echo` task and long-polls its result, submits a batch and long-polls one
of its tasks, cancels the delayed task of the batch and deletes it, and gets typed problems for a bad payload and a wrong
key. With no key configured on the server any token does.
"""

import sys

from ttp_client import AuthenticatedClient
from ttp_client.api.tasks import cancel_task, delete_task, get_task, submit_batch, submit_task
from ttp_client.models import (
    BatchRequest,
    BatchResponse,
    Problem,
    SleepPayload,
    TaskRequest,
    TaskState,
    TaskView,
)

base = sys.argv[1]
key = sys.argv[2] if len(sys.argv) > 2 else "unused"

with AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True) as client:
    echo = submit_task.sync(client=client, body=TaskRequest(kind="echo", payload={"hello": "world"}))
    assert isinstance(echo, TaskView), echo
    done = get_task.sync(echo.id, client=client, wait_ms=10_000)  # long-poll until terminal
    assert isinstance(done, TaskView) and done.state == TaskState.SUCCEEDED, done
    assert done.result == {"hello": "world"}, done

    later = TaskRequest(kind="sleep", payload=SleepPayload(ms=50).to_dict(), delay_ms=60_000)
    batch = submit_batch.sync(client=client, body=BatchRequest(tasks=[later.to_dict(), {"kind": "noop"}]))
    assert isinstance(batch, BatchResponse) and batch.accepted == 2, batch
    delayed, noop = batch.results[0].id, batch.results[1].id
    assert isinstance(delayed, str) and isinstance(noop, str), batch
    ran = get_task.sync(noop, client=client, wait_ms=10_000)
    assert isinstance(ran, TaskView) and ran.state == TaskState.SUCCEEDED, ran

    cancelled = cancel_task.sync(delayed, client=client)  # kept, state cancelled
    assert isinstance(cancelled, TaskView) and cancelled.state == TaskState.CANCELLED, cancelled
    assert delete_task.sync_detailed(delayed, client=client).status_code == 204
    gone = get_task.sync_detailed(delayed, client=client)
    assert gone.status_code == 404 and isinstance(gone.parsed, Problem), gone

    bad = submit_task.sync_detailed(client=client, body=TaskRequest(kind="sleep", payload={"ms": "soon"}))
    assert bad.status_code == 422 and isinstance(bad.parsed, Problem), bad
    assert bad.parsed.field == "payload.ms", bad.parsed

if len(sys.argv) > 2:  # keys are configured: a wrong one is a typed 401
    with AuthenticatedClient(base_url=base, token="wrong-key") as stranger:
        denied = submit_task.sync_detailed(client=stranger, body=TaskRequest(kind="noop"))
        assert denied.status_code == 401 and isinstance(denied.parsed, Problem), denied
        assert denied.parsed.type_ == "urn:ttp:problem:unauthorized", denied.parsed

print("python client: ok")
