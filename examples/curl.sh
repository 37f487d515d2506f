#!/usr/bin/env bash
# The gated flow with curl and jq, on the reference Wingman paths and headers (the same calls exist
# under /v1: POST /v1/approvals, GET /v1/approvals/ID?wait=, POST /v1/tokens, POST /v1/execute):
#
#   AIRLOCK_API_KEY=alk_… bash examples/curl.sh echo test
#
# The key needs approvals:request, approvals:read and gateway:execute (it mints the token of its own
# request); AIRLOCK_DECIDE_KEY, if set, mints instead, as in the reference deployment guide. LOW risk
# runs at once; anything else waits (a long poll) until a person decides, e.g. at $AIRLOCK_URL/app.
set -euo pipefail

URL=${AIRLOCK_URL:-http://127.0.0.1:5002}
KEY=${AIRLOCK_API_KEY:?set AIRLOCK_API_KEY to an API key}
MINT_KEY=${AIRLOCK_DECIDE_KEY:-$KEY}
ENVIRONMENT=${AIRLOCK_ENV:-dev}
COMMAND=${*:-echo test}

# Error answers are problem+json ({"code", "detail", …}); --fail-with-body prints them and stops here.
post() { curl -sS --fail-with-body -X POST "$URL$1" -H 'Content-Type: application/json' "${@:3}" --data-binary "$2"; }

curl -sS --fail-with-body "$URL/health" | jq -r '"server \(.status), version \(.version)"'

# 1. Submit the approval request.
BODY=$(jq -n --arg command "$COMMAND" --arg env "$ENVIRONMENT" \
  '{worker_id: "curl-example", task_name: ("run " + $command), deployment_env: $env, command: $command}')
REQUEST=$(post /approvals/request "$BODY" -H "X-Wingman-Approval-Request-Key: $KEY")
REQUEST_ID=$(jq -r .request.request_id <<<"$REQUEST")
STATUS=$(jq -r .request.status <<<"$REQUEST")
echo "Request ID: $REQUEST_ID ($(jq -r .request.risk_level <<<"$REQUEST"), $STATUS)"

# 2. Wait for the decision: each call answers as soon as the request is decided, or after 30 s.
while [ "$STATUS" = PENDING ]; do
  echo "waiting for a decision on $REQUEST_ID (approve it at $URL/app)" >&2
  STATUS=$(curl -sS --fail-with-body "$URL/approvals/$REQUEST_ID?wait=30" -H "X-Wingman-Approval-Read-Key: $KEY" | jq -r .request.status)
done
if [ "$STATUS" != APPROVED ]; then
  echo "request $REQUEST_ID is $STATUS: nothing runs" >&2
  exit 3
fi

# 3. Mint the capability token: single use, for exactly this command, target and environment.
WHERE=$(jq -n --arg id "$REQUEST_ID" --arg command "$COMMAND" --arg env "$ENVIRONMENT" \
  '{approval_id: $id, command: $command, environment: $env}')
TOKEN=$(post /gateway/token "$WHERE" -H "X-Wingman-Approval-Decide-Key: $MINT_KEY" | jq -r .token)
echo "Token: $TOKEN"

# 4. Execute through the gateway with the token.
post /gateway/execute "$WHERE" -H "X-Capability-Token: $TOKEN" | jq

# 5. The same token again is refused: {"success": false, "error": "Token has already been used"} (409).
curl -sS -X POST "$URL/gateway/execute" -H 'Content-Type: application/json' -H "X-Capability-Token: $TOKEN" --data-binary "$WHERE" | jq -c
