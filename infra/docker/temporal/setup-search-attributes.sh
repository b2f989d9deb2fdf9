#!/bin/sh
# One-shot run by the temporal-setup service (admin-tools image): registers the custom search attributes the
# workflows set (lib/temporal-constants.ts SEARCH_ATTRIBUTES; test/unit/compose.test.ts keeps the list in step).
# Idempotent: an attribute that already exists is skipped, so `docker compose up` can run it on every start.
set -eu
: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS (host:port of the Temporal frontend)}"
ns=${FEROPS_TEMPORAL_NAMESPACE:-default}
existing=$(temporal operator search-attribute list --namespace "$ns" --address "$TEMPORAL_ADDRESS")
for spec in FeropsDatasetHash:Keyword FeropsModelName:Keyword FeropsModelVersion:Keyword FeropsStage:Keyword; do
  name=${spec%%:*}
  type=${spec#*:}
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name already registered"
  else
    temporal operator search-attribute create --namespace "$ns" --address "$TEMPORAL_ADDRESS" --name "$name" --type "$type"
    echo "registered search attribute $name ($type)"
  fi
done
