#!/bin/sh
# The backup gate of an upgrade (k8s/15-upgrade-backup-job.yaml.j2): asks the database host,
# through SSM Run Command, for a pgBackRest backup and waits until it has succeeded. The
# migration Job, and so the new release, starts only after this exits 0.
#
# Environment: INSTANCE_ID (the database host), DOCUMENT_NAME (the SSM Command document whose
# fixed steps take the backup; it has no parameters and carries its own execution timeout),
# TIMEOUT_SECONDS (how long to wait in all), POLL_SECONDS (between status polls), COMMENT (shown
# in the SSM console, <= 100 chars).
#
# Exit codes: 0 the backup succeeded (its label is printed); 1 the backup failed, was cancelled
# or timed out on the host; 2 an input is missing; 3 no result within TIMEOUT_SECONDS; 4 SSM
# refused a request (permissions, unknown instance).
set -eu

log() { printf '%s upgrade-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

for name in INSTANCE_ID DOCUMENT_NAME TIMEOUT_SECONDS POLL_SECONDS; do
  eval "value=\${${name}:-}"
  if [ -z "$value" ]; then
    log "environment variable ${name} is not set"
    exit 2
  fi
done
COMMENT=${COMMENT:-twenty upgrade backup gate}
deadline=$(($(date +%s) + TIMEOUT_SECONDS))
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

time_left() { [ "$(date +%s)" -lt "$deadline" ]; }

# A host that has just started may not be registered with SSM yet (InvalidInstanceId): retry
# that until the deadline; any other refusal is final.
log "asking ${INSTANCE_ID} for a pgBackRest backup"
while ! command_id=$(aws ssm send-command --instance-ids "$INSTANCE_ID" \
  --document-name "$DOCUMENT_NAME" \
  --timeout-seconds "$TIMEOUT_SECONDS" --comment "$COMMENT" \
  --query Command.CommandId --output text 2>"$errors"); do
  if grep -q 'InvalidInstanceId' "$errors" && time_left; then
    log "the host is not registered with SSM yet; retrying"
    sleep "$POLL_SECONDS"
    continue
  fi
  cat "$errors" >&2
  log "SSM refused the command"
  exit 4
done
log "command ${command_id} sent; waiting for it (at most ${TIMEOUT_SECONDS}s)"

invocation() {
  aws ssm get-command-invocation --command-id "$command_id" --instance-id "$INSTANCE_ID" \
    --query "$1" --output text
}

while :; do
  if status=$(invocation Status 2>"$errors"); then
    case "$status" in
      Success)
        invocation StandardOutputContent
        log "backup succeeded"
        exit 0
        ;;
      Pending | InProgress | Delayed) ;;
      *)
        log "backup ${status}; host output follows"
        invocation StandardOutputContent >&2 || true
        invocation StandardErrorContent >&2 || true
        exit 1
        ;;
    esac
  elif ! grep -q 'InvocationDoesNotExist' "$errors"; then
    # Right after send-command the invocation may not exist yet; anything else is final.
    cat "$errors" >&2
    log "SSM refused the status request"
    exit 4
  fi
  if ! time_left; then
    log "no result after ${TIMEOUT_SECONDS}s (last status: ${status:-unknown}); the host stops the backup at the same timeout"
    exit 3
  fi
  sleep "$POLL_SECONDS"
done
