# Sourced by the benchmarks that compare with curl over HTTPS: nginx (Debian's package) serving a folder over TLS 1.3
# on loopback, with a throwaway P-256 certificate. The caller's cleanup stops it: kill "$(cat DIR/nginx.pid)".
#
# nginx_https DIR ROOT: writes the certificate, key, configuration, pid and logs into DIR, serves ROOT, and sets
# nginx_port to the port it listens on (127.0.0.1). Needs NGINX (the nginx binary) set.
nginx_https() {
  local dir="$1" www="$2"
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -subj /CN=127.0.0.1 -days 1 2>/dev/null
  nginx_port="$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    ssl_protocols TLSv1.3;
    root $www;
  }
}
CONF
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" 2>/dev/null
  sleep 1
}
