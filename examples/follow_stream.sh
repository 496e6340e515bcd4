#!/usr/bin/env bash
# Follow the live event stream of a negotiation-log service with curl (no Python needed).
#
#   examples/follow_stream.sh URL [TOKEN] [MAX_EVENTS]
#
# Prints one line per event: "POSITION TYPE ID". When the connection drops it
# reconnects and resumes with Last-Event-ID, so no event is missed or shown
# twice. Starts after $LAST_EVENT_ID (default 0: from the first event). Stops
# after MAX_EVENTS events (default 0: never).
set -u
url=${1:?usage: follow_stream.sh URL [TOKEN] [MAX_EVENTS]}
token=${2:-}
max=${3:-0}
last=${LAST_EVENT_ID:-0}
seen=0
auth=()
if [ -n "$token" ]; then
  auth=(-H "Authorization: Bearer $token")
fi

while :; do
  exec 3< <(curl -sS -N "${auth[@]}" -H "Accept: text/event-stream" -H "Last-Event-ID: $last" "$url/v1/events/stream")
  curl_pid=$!
  id='' type=''
  while IFS= read -r line <&3; do
    line=${line%$'\r'}
    case $line in
      'id: '*) id=${line#id: } ;;
      'event: '*) type=${line#event: } ;;
      'data: '*)
        event_id=$(printf '%s\n' "${line#data: }" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
        printf '%s %s %s\n' "$id" "$type" "$event_id"
        last=$id
        seen=$((seen + 1))
        if [ "$max" -gt 0 ] && [ "$seen" -ge "$max" ]; then
          kill "$curl_pid" 2>/dev/null
          exit 0
        fi
        ;;
    esac
  done
  exec 3<&-
  sleep 1  # the server went away: try again, from the last event seen
done
