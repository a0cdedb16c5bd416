"""Load: 60 s at 50 concurrent connections over loopback against gunicorn (2 workers), half
on ``/api/recommendations/`` and half posting event batches to ``/api/events/`` (5 events a
request, unique idempotency keys). Pass: 0 errors, and every event the API accepted (201) is
in the database afterwards (count accepted vs count stored).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.api_load import _free_port, _latency, gunicorn

NAME = "load"
EVENTS_PER_REQUEST = 5

EVENTS_LUA = """
-- accepted / failed are globals: done() reads them from each thread with thread:get
counter = 0
thread_id = 0
accepted = 0
failed = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  thread_id = tid
end
request = function()
  counter = counter + 1
  local events = {}
  for i = 1, %(per)d do
    local item = ((counter * 7 + i * 13 + thread_id) %% 1682) + 1
    events[i] = string.format(
      '{"item": %%d, "kind": "view", "context": {"load": "%(run)s"}, "idempotency_key": "%(run)s-%%d-%%d-%%d"}',
      item, thread_id, counter, i)
  end
  return wrk.format("POST", "/api/events/", nil, '{"events": [' .. table.concat(events, ",") .. ']}')
end
response = function(status, headers, body)
  if status == 200 or status == 201 then accepted = accepted + 1 else failed = failed + 1 end
end
done = function(summary, latency, requests)
  local a, f = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    f = f + t:get("failed")
  end
  io.write(string.format("ACCEPTED %%d FAILED %%d\\n", a, f))
end
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50, help="in total, split between the two endpoints")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--user", default="ml_1")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Event

    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=args.user))
    run_id = uuid.uuid4().hex[:12]
    port = _free_port()
    half = max(args.connections // 2, 1)
    with tempfile.TemporaryDirectory() as tmp, gunicorn(port, args.workers, token.key):
        script = Path(tmp) / "events.lua"
        script.write_text(EVENTS_LUA % {"per": EVENTS_PER_REQUEST, "run": run_id})
        auth = ["-H", f"Authorization: Token {token.key}"]
        base = f"http://127.0.0.1:{port}"
        common = ["wrk", "-t2", f"-c{half}", f"-d{args.seconds}s", "--timeout", "30s", "--latency", *auth]
        print(f"wrk {args.seconds}s x {half} connections on each endpoint ...", flush=True)
        recs = subprocess.Popen([*common, f"{base}/api/recommendations/?k=10"], stdout=subprocess.PIPE, text=True)
        events = subprocess.Popen([*common, "-H", "Content-Type: application/json", "-s", str(script), base],
                                  stdout=subprocess.PIPE, text=True)
        recs_out, events_out = recs.communicate(), events.communicate()
        time.sleep(2)  # requests cut off at the deadline finish on the server
    recs_text, events_text = recs_out[0], events_out[0]
    accepted, failed = (int(x) for x in re.search(r"ACCEPTED (\d+) FAILED (\d+)", events_text).groups())
    stored = Event.objects.filter(context__load=run_id).count()
    Event.objects.filter(context__load=run_id).delete()  # the load's events are not shop activity

    def stats(text: str) -> dict[str, Any]:
        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        sockets = re.search(r"Socket errors: (.*)", text)
        total = re.search(r"(\d+) requests in", text)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        return {"requests": int(total[1]) if total else 0, "rps": float(rps[1]) if rps else 0.0,
                "non_2xx": int(errors[1]) if errors else 0, "socket_errors": sockets[1] if sockets else "none",
                "p50_ms": _latency(text, "50%"), "p99_ms": _latency(text, "99%")}

    return {
        "seconds": args.seconds, "connections": args.connections, "workers": args.workers,
        "recommendations": stats(recs_text), "events": {**stats(events_text), "accepted_requests": accepted,
                                                        "failed_requests": failed},
        "events_accepted": accepted * EVENTS_PER_REQUEST, "events_stored": stored,
    }


def summary(result: dict[str, Any]) -> list[str]:
    r, e = result["recommendations"], result["events"]
    ok = (r["non_2xx"] == 0 and e["failed_requests"] == 0 and r["socket_errors"] == "none"
          and e["socket_errors"] == "none" and result["events_stored"] >= result["events_accepted"])
    return [
        f"recommendations: {r['requests']} requests, {r['rps']:.1f}/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
        f"non-2xx {r['non_2xx']}, socket errors {r['socket_errors']}",
        f"events: {e['requests']} batches, {e['rps']:.1f}/s, p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, "
        f"failed {e['failed_requests']}, socket errors {e['socket_errors']}",
        f"events accepted {result['events_accepted']}, stored {result['events_stored']}: "
        + ("PASS (0 errors, nothing lost)" if ok else "FAIL"),
    ]
