#!/usr/bin/env python3
"""Airlock's gated flow from Python with the standard library only: request, wait, token, execute.

    AIRLOCK_URL=http://127.0.0.1:5002 AIRLOCK_API_KEY=alk_... python3 examples/python_http.py echo hello

The key needs approvals:request, approvals:read and gateway:execute. LOW risk commands are approved
by the policy at once; anything else waits (long polls, no busy loop) until a person decides, e.g. in
the console at /app. Exits with the command's exit code; 3 when rejected, 4 when expired.
"""
import json
import os
import shlex
import sys
import urllib.error
import urllib.request

URL = os.environ.get("AIRLOCK_URL", "http://127.0.0.1:5002").rstrip("/")
KEY = os.environ.get("AIRLOCK_API_KEY", "")


class AirlockError(Exception):
    """An error answer: the problem+json `code` and `detail` (RFC 9457)."""

    def __init__(self, status, problem):
        self.status = status
        self.code = problem.get("code") or problem.get("error") or "http_%d" % status
        self.detail = problem.get("detail") or problem.get("error") or ""
        super().__init__("%d %s: %s" % (status, self.code, self.detail))


def call(method, path, body=None, headers=None, key=KEY, timeout=75):
    """One JSON call; an error status raises AirlockError with the server's code."""
    request = urllib.request.Request(URL + path, method=method)
    request.add_header("Accept", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data=data, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            problem = json.loads(text)
        except ValueError:
            problem = {"detail": text.decode("utf-8", "replace")}
        raise AirlockError(error.code, problem) from None


def main(argv):
    if not argv:
        print("usage: python_http.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    # Each word stays one argument (no shell): quote them back into one command line.
    command = shlex.join(argv)
    environment = os.environ.get("AIRLOCK_ENV", "dev")

    # 1. Ask.
    request = call("POST", "/v1/approvals", {
        "worker_id": "python-example",
        "task_name": "run " + command[:200],
        "deployment_env": environment,
        "command": command,
    })["request"]
    request_id = request["request_id"]

    # 2. Wait for the decision: each GET ?wait=30 answers as soon as it is decided.
    while request["status"] == "PENDING":
        print("request %s is %s: waiting for a decision (approve it at %s/app)" % (request_id, request["risk_level"], URL), file=sys.stderr, flush=True)
        request = call("GET", "/v1/approvals/%s?wait=30" % request_id)["request"]
    if request["status"] == "REJECTED":
        print("rejected: %s" % (request.get("decision_reason") or "no reason given"), file=sys.stderr)
        return 3
    if request["status"] != "APPROVED":
        print("request %s is %s" % (request_id, request["status"]), file=sys.stderr)
        return 4

    # 3. Mint the single-use capability token for exactly what was approved.
    operation = {"command": request["command"]}
    where = {"approval_id": request_id, "environment": request["environment"]}
    token = call("POST", "/v1/tokens", dict(where, **operation))["token"]

    # 4. Execute through the gateway with the token (no API key needed there).
    result = call("POST", "/v1/execute", dict(where, **operation), headers={"X-Capability-Token": token}, key=None)
    sys.stdout.write(result["output"])
    print("execution %s: %s, exit code %s" % (result["execution_id"], result["status"], result["exit_code"]), file=sys.stderr)
    return result["exit_code"] if result["exit_code"] is not None else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except AirlockError as error:
        print("airlock: %s" % error, file=sys.stderr)
        sys.exit(1)
