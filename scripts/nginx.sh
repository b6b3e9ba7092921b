#!/usr/bin/env bash
# Serves web/ and proxies /api/ natively (no Docker, no root needed) with the same server block
# the container uses: renders compose/nginx/templates/default.conf.template into a folder of its
# own (config, pid, logs, temp files) and runs nginx in the foreground.
#   API_UPSTREAM  host:port of the API        (default 127.0.0.1:8000)
#   LISTEN_PORT   port or address:port        (default 127.0.0.1:8080)
#   WEB_ROOT      folder with index.html      (default <repo>/web)
#   NGINX_DIR     runtime folder              (default a new temporary folder)
#   NGINX_BIN     nginx executable            (default nginx on PATH, else /usr/sbin/nginx)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export API_UPSTREAM=${API_UPSTREAM:-127.0.0.1:8000}
export LISTEN_PORT=${LISTEN_PORT:-127.0.0.1:8080}
export WEB_ROOT=${WEB_ROOT:-$repo/web}
dir=${NGINX_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/eventful-nginx.XXXXXX")}
nginx_bin=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
mime_types=${NGINX_MIME_TYPES:-/etc/nginx/mime.types}

mkdir -p "$dir/logs" "$dir/temp"
# Only our three variables: nginx's own $host, $uri, ... must survive the substitution.
# shellcheck disable=SC2016
envsubst '${API_UPSTREAM} ${LISTEN_PORT} ${WEB_ROOT}' \
  <"$repo/compose/nginx/templates/default.conf.template" >"$dir/default.conf"

# Workers run as the invoking user; as root nginx would otherwise switch them to `nobody`,
# who cannot read a checkout under a private home or write the temp folder.
user_line=""
if [ "$(id -u)" = 0 ]; then user_line="user root;"; fi

cat >"$dir/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr notice;
events { worker_connections 512; }
http {
    include $mime_types;
    default_type application/octet-stream;
    access_log $dir/logs/access.log;
    sendfile on;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    include $dir/default.conf;
}
CONF

echo "nginx: http://${LISTEN_PORT} -> web ${WEB_ROOT}, /api/ -> ${API_UPSTREAM} (runtime in $dir)" >&2
exec "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e stderr -g 'daemon off;'
