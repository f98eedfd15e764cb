# Shared by bench/proxy-load.sh and bench/proxy-ab.sh (sourced, not run): a temp workspace whose processes stop and
# whose files go when the script exits, free loopback ports, waiting for an HTTP server, the wrk request, and the fast
# upstream: nginx answering POST /v1/messages with the fixed Anthropic message of $RESPONSE_JSON, or, asked for a
# stream (Accept: text/event-stream), the SSE fixture $STREAM_SSE with a pause of $STREAM_DELAY seconds after its first
# event. Also the median both scripts report. Uses the caller's log and die; sets TMP, PIDS, NGINX_PORT and DIRECT_URL.

median() { # numbers, one per line on stdin -> their median (the mean of the middle two for an even count)
  sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

start_workspace() { # name: makes TMP (/tmp/modelmix-<name>.XXXXXX) and PIDS; on exit stops every process in PIDS and removes TMP
  TMP="$(mktemp -d "/tmp/modelmix-$1.XXXXXX")"
  PIDS=()
  trap stop_workspace EXIT
  trap 'exit 130' INT TERM
}

stop_workspace() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_http() { # url what [extra curl args...]
  local url="$1" what="$2"; shift 2
  for _ in $(seq 300); do
    if curl -s -o /dev/null --max-time 1 "$@" "$url"; then return 0; fi
    sleep 0.1
  done
  die "$what did not answer at $url within 30 s"
}

# The request every load run sends (the same through each target, so their figures compare), as a wrk script.
write_lua() { # file model extra-header-lines
  cat > "$1" <<EOF
wrk.method = "POST"
wrk.body = '{"model":"$2","max_tokens":1024,"messages":[{"role":"user","content":"In one sentence, what does a model router do?"}]}'
wrk.headers["content-type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = "bench-key"
$3
EOF
}

start_nginx_upstream() {
  NGINX_PORT="$(free_port)"
  mkdir -p "$TMP/nginx"
  chmod 755 "$TMP" "$TMP/nginx"   # nginx's workers (user nobody when started as root) read the SSE parts from here
  # The first SSE event (up to the first blank line) and the rest, so the upstream can pause between them.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1{print > "'"$TMP"'/nginx/sse-head.txt"; next} {print > "'"$TMP"'/nginx/sse-tail.txt"}' "$STREAM_SSE"
  cp "$STREAM_SSE" "$TMP/nginx/sse-all.txt"
  JSON_BODY="$(cat "$RESPONSE_JSON")"
  if grep -q "[\$'\\\\]" "$RESPONSE_JSON"; then die "response fixture has \$, ' or \\, which the generated nginx config cannot quote"; fi

  cat > "$TMP/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    # POST /v1/messages: the fixed message; asked for a stream (Accept: text/event-stream), the SSE fixture with a
    # pause of ${STREAM_DELAY}s after its first event, so a buffering proxy would show it in the time to first event.
    location = /v1/messages {
      if (\$http_accept ~* "text/event-stream") { rewrite ^ /sse last; }
      default_type application/json;
      return 200 '$JSON_BODY';
    }
    location = /sse {
      internal;
      default_type text/event-stream;
      echo_location /sse-head.txt;
      echo_flush;
      echo_sleep $STREAM_DELAY;
      echo_location /sse-tail.txt;
    }
    location = /sse-all {
      default_type text/event-stream;
      alias $TMP/nginx/sse-all.txt;
    }
    location ~ ^/sse-(head|tail)\.txt\$ {
      internal;
      default_type text/event-stream;
      root $TMP/nginx;
    }
  }
}
EOF
  nginx -t -q -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/test.log" || { cat "$TMP/nginx/test.log" >&2; die "nginx config test failed"; }
  nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
  PIDS+=($!)
  DIRECT_URL="http://127.0.0.1:$NGINX_PORT/v1/messages"
  wait_http "$DIRECT_URL" nginx -X POST -d '{}'
  log "nginx on 127.0.0.1:$NGINX_PORT"
}
