#!/usr/bin/env bash
# Enable RabbitMQ's own protocol plugins (the benchmark references) on ports that do not
# collide with Mosquitto (1883) or anything else, WITHOUT restarting the broker.
#
#   MQTT        127.0.0.1:1884    rabbitmq_mqtt        (app env rabbitmq_mqtt.tcp_listeners)
#   STOMP       127.0.0.1:61623   rabbitmq_stomp       (app env rabbitmq_stomp.tcp_listeners)
#   Web STOMP   127.0.0.1:15674   rabbitmq_web_stomp   (app env rabbitmq_web_stomp.tcp_config), path /ws
#   Web MQTT    127.0.0.1:15675   rabbitmq_web_mqtt    (app env rabbitmq_web_mqtt.tcp_config),  path /ws
#
# How (RabbitMQ 3.10): the plugin apps are on the code path but not loaded. Setting their
# listener env with {persistent, true} survives the application load that
# `rabbitmq-plugins enable` performs (the .app defaults would otherwise win: MQTT would try
# 1883 and fail). The keys are the ones the 3.10.8 cuttlefish schemas map to
# (plugins/<app>/priv/schema/<app>.schema: mqtt.listeners.tcp.$name → rabbitmq_mqtt.tcp_listeners,
# web_stomp.tcp.port/ip → rabbitmq_web_stomp.tcp_config.port/ip, …).
# The equivalent rabbitmq.conf lines are appended (once) so that a restart keeps the ports.
#
# Idempotent: a plugin that is already running on its port is left alone. Needs root (or
# the rabbitmq user) for rabbitmqctl. Never restarts or stops the broker.
set -euo pipefail

CONF=${RABBITMQ_CONF:-/etc/rabbitmq/rabbitmq.conf}
MQTT_PORT=${BENCH_RABBIT_MQTT_PORT:-1884}
STOMP_PORT=${BENCH_RABBIT_STOMP_PORT:-61623}
WEB_STOMP_PORT=${BENCH_RABBIT_WEB_STOMP_PORT:-15674}
WEB_MQTT_PORT=${BENCH_RABBIT_WEB_MQTT_PORT:-15675}
PLUGINS=(rabbitmq_mqtt rabbitmq_stomp rabbitmq_web_stomp rabbitmq_web_mqtt)

say() { printf 'setup-rabbitmq-plugins: %s\n' "$*"; }

port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\"\([^"]*\)".*/\1/p' | head -1; }

if ! rabbitmqctl -q status >/dev/null 2>&1; then
  say "RabbitMQ is not running (rabbitmqctl status failed); nothing done" >&2
  exit 1
fi

# A port held by someone other than RabbitMQ would make the plugin fail: refuse early.
for p in "$MQTT_PORT" "$STOMP_PORT" "$WEB_STOMP_PORT" "$WEB_MQTT_PORT"; do
  owner=$(port_owner "$p")
  if [[ -n "$owner" && "$owner" != "beam.smp" ]]; then
    say "port $p is held by '$owner', not RabbitMQ; choose another (BENCH_RABBIT_*_PORT)" >&2
    exit 1
  fi
done

running=$(rabbitmqctl -q eval '[A || {A, _, _} <- application:which_applications()].' | tr -d '[]\n ')
missing=()
for p in "${PLUGINS[@]}"; do
  if [[ ",$running," == *",$p,"* ]]; then say "$p already running"; else missing+=("$p"); fi
done

if ((${#missing[@]})); then
  # Load each app (so its .app defaults are in), then set the listener env persistently.
  rabbitmqctl -q eval "
    Load = fun(A) -> case application:load(A) of ok -> ok; {error, {already_loaded, _}} -> ok end end,
    [ok = Load(A) || A <- [rabbitmq_mqtt, rabbitmq_stomp, rabbitmq_web_stomp, rabbitmq_web_mqtt]],
    P = [{persistent, true}],
    ok = application:set_env(rabbitmq_mqtt, tcp_listeners, [{\"127.0.0.1\", $MQTT_PORT}], P),
    ok = application:set_env(rabbitmq_stomp, tcp_listeners, [{\"127.0.0.1\", $STOMP_PORT}], P),
    ok = application:set_env(rabbitmq_web_stomp, tcp_config, [{port, $WEB_STOMP_PORT}, {ip, \"127.0.0.1\"}], P),
    ok = application:set_env(rabbitmq_web_mqtt, tcp_config, [{port, $WEB_MQTT_PORT}, {ip, \"127.0.0.1\"}], P),
    ok." >/dev/null
  say "listener env set: mqtt=$MQTT_PORT stomp=$STOMP_PORT web_stomp=$WEB_STOMP_PORT web_mqtt=$WEB_MQTT_PORT (127.0.0.1)"
  rabbitmq-plugins enable "${missing[@]}" | sed 's/^/  /'
  say "enabled ${missing[*]} online"
fi

# Persist for the next broker restart: append each key once.
persist() {
  local key=$1 value=$2
  if grep -Eq "^[[:space:]]*${key//./\\.}[[:space:]]*=" "$CONF"; then
    say "$CONF already sets $key (left as is)"
  else
    printf '%s = %s\n' "$key" "$value" >>"$CONF"
    say "$CONF += $key = $value"
  fi
}
persist mqtt.listeners.tcp.default "127.0.0.1:$MQTT_PORT"
persist stomp.listeners.tcp.1 "127.0.0.1:$STOMP_PORT"
persist web_stomp.tcp.port "$WEB_STOMP_PORT"
persist web_stomp.tcp.ip 127.0.0.1
persist web_mqtt.tcp.port "$WEB_MQTT_PORT"
persist web_mqtt.tcp.ip 127.0.0.1

# Verify: every port answers within a few seconds.
for p in "$MQTT_PORT" "$STOMP_PORT" "$WEB_STOMP_PORT" "$WEB_MQTT_PORT"; do
  for _ in $(seq 1 50); do port_listening "$p" && break; sleep 0.1; done
  if port_listening "$p"; then say "port $p listening ($(port_owner "$p"))"; else say "port $p NOT listening" >&2; exit 1; fi
done
