#!/usr/bin/env bash
# Gateway benchmark, every peer in the same run on the same machine:
#   direct   - wrk straight to the trivial upstream
#   nginx    - Debian's nginx as a plain reverse proxy (no authentication)
#   gateway  - thegallery's gateway with authentication on (valid cookie, session checked in Redis)
#   traced1, traced100
#            - the gateway again with its spans exported over OTLP, sampling 1 % and 100 % of
#              requests (parentbased_traceidratio), to a stand-in collector (bench_peer otlp-sink)
#              on the load's CPU that answers every export
#   scg      - Spring Cloud Gateway (reactive, Netty) with the same prefix routes, no authentication
#              (bench/gateway/scg, built here with Maven)
# The load generator and the upstream share CPU $LOAD_CPU; the proxy under test runs alone on
# CPU $PROXY_CPU. Needs: wrk and nginx (apt-get install wrk nginx-light), vegeta for the fixed-rate
# latency (go install github.com/tsenart/vegeta/v12@v12.13.0), Redis from scripts/dev-services,
# Java 17 and Maven (apt-get install openjdk-17-jdk-headless maven); the first build of the SCG jar
# downloads its dependencies from Maven Central; chrt (util-linux, in every Debian). The load at half
# the direct maximum comes from crates/gateway/examples/bench_load.rs, built here by cargo: an
# open-loop generator (per-connection schedule, latency from the intended send time, like wrk2) that
# holds ~55k req/s on the shared CPU, which neither vegeta (15-20k/s) nor oha 1.16 (its 1 ms ticks
# send bursts, and it saturated the core at 52k/s with p50 282 ms) could.
#
#   bench/gateway/run.sh            # DURATION=10s CONNS=64 RATE=5000 SCG_WARMUP=60s SCG_RATE_WARMUP=10s
#                                   # HALF_RATE=<direct max / 2> LOAD_CONNS=64
#                                   # PEERS="direct nginx gateway traced1 traced100 scg"
#                                   # ROUNDS=5 ROUND_DURATION=5s (paired throughput rounds) OPEN_ROUNDS=5 (open-loop rounds)
#                                   # KILL_RATE=5000 KILL_DURATION=20 KILL_AT=5 (replica-kill row; KILL_RATE=0 skips it)
# MariaDB and Kafka are best stopped while it runs (scripts/dev-services down kafka mariadb): the
# idle broker alone takes 10-15% of a CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-19101}
NGINX_PORT=${NGINX_PORT:-19102}
GATEWAY_PORT=${GATEWAY_PORT:-19103}
SCG_PORT=${SCG_PORT:-19104}
TRACED1_PORT=${TRACED1_PORT:-19105}
TRACED100_PORT=${TRACED100_PORT:-19106}
SINK_PORT=${SINK_PORT:-19107}
# The JVM compiles its hot paths while serving, and on one CPU its JIT threads take turns with
# the event loops: throughput here still climbed until about 60 s of wrk (2 s leaves it interpreted).
SCG_WARMUP=${SCG_WARMUP:-60s}
# vegeta opens about four times wrk's connections (upstream too); the JVM's first seconds at that
# width still ran 15x slower (p50) than the next ones, so scg gets this much of the fixed rate first.
SCG_RATE_WARMUP=${SCG_RATE_WARMUP:-10s}
# Heap capped as a deployment would cap it (the default is a quarter of RAM, 6 GiB here), so that
# peak RSS shows the working set; 256 MiB is ample for a stateless proxy. SerialGC is what the JVM
# picks by itself on one CPU; naming it keeps the choice off ergonomics.
SCG_JVM_OPTS=${SCG_JVM_OPTS:--Xmx256m -XX:+UseSerialGC}
# Connections of the half-rate load; each has its own schedule (HALF_RATE / LOAD_CONNS per second).
LOAD_CONNS=${LOAD_CONNS:-64}
# A subset skips the others (scg alone costs over a minute); direct is the baseline of every other.
read -r -a peers <<<"${PEERS:-direct nginx gateway traced1 traced100 scg}"
[ "${peers[0]}" = direct ] || { echo "PEERS must start with direct" >&2; exit 2; }
wants() { [[ " ${peers[*]} " == *" $1 "* ]]; }
PATH_UNDER_TEST=/api/member

for tool in wrk nginx vegeta taskset chrt; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 2; }
done
if wants scg; then
    for tool in java mvn; do command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 2; }; done
fi
cargo build --release -q -p gateway --example bench_peer --example bench_load
bin=target/release/examples/bench_peer
load=target/release/examples/bench_load
scg_jar=bench/gateway/scg/target/scg-peer.jar
if wants scg && { [ ! -f "$scg_jar" ] || [ -n "$(find bench/gateway/scg/pom.xml bench/gateway/scg/src -newer "$scg_jar")" ]; }; then
    mvn -B -q -f bench/gateway/scg/pom.xml -DskipTests package >&2 # its -q still prints colour codes
fi
set -a
# shellcheck disable=SC1091 # written by scripts/dev-services up
. target/dev-services.env
set +a
busy=$(scripts/dev-services status 2>/dev/null | awk '($1 == "kafka" || $1 == "mariadb") && $2 == "up" {print $1}' | xargs)
[ -z "$busy" ] || echo "warning: $busy running; they take CPU from the peers (scripts/dev-services down $busy)" >&2

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# wait_port PORT [SECONDS]
wait_port() { for _ in $(seq $((${2:-10} * 10))); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# One runtime thread: two would take turns on the one pinned CPU (nginx's p99 at 30k/s went from
# 29 ms to 2.8 ms with one).
TOKIO_WORKER_THREADS=1 taskset -c "$LOAD_CPU" "$bin" upstream "127.0.0.1:$UPSTREAM_PORT" & pids+=($!); upstream_pid=$!
"$bin" mint "$work"
token=$(cat "$work/token")

cat >"$work/proxy.conf" <<CONF
proxy_http_version 1.1;
proxy_set_header connection "";
proxy_set_header host \$proxy_host;
proxy_set_header x-forwarded-for \$remote_addr;
proxy_set_header x-forwarded-proto \$scheme;
proxy_set_header x-forwarded-host \$host;
CONF
# The upstream shares CPU 0 with the load, and what it parses costs that CPU: the gateway's
# forwarded head (the cookie, the bearer copy of the token, a request id and three identity
# headers, ~720 bytes) cost this upstream ~1 µs more per request than nginx's ~230 bytes
# (6.9 against 6.0 µs, measured with wrk straight at it), which is CPU 0 taken from wrk and shows
# as the proxy's throughput. So by default nginx forwards the same header set with the values it
# can produce (the bearer from the cookie, its own request id, the identity of the one signed-in
# member) - what it would send in front of these services behind an auth step - and the upstream
# reads the same bytes from both. It still checks no token. NGINX_IDENTITY=0 forwards only the
# x-forwarded-* headers, as the runs before 2026-12-06 16:00 did. Names are written in lower case,
# as the gateway writes them: hyper (the upstream) lowercases every name it reads, and nine
# mixed-case ones cost it ~0.8 µs more per request (8.5 against 7.6 µs, wrk straight at it).
if [ "${NGINX_IDENTITY:-1}" = 1 ]; then
    payload=$(cut -d. -f2 "$work/token" | tr '_-' '/+')
    while [ $((${#payload} % 4)) -ne 0 ]; do payload+="="; done
    sid=$(base64 -d <<<"$payload" | jq -r .sid)
    [ -n "$sid" ] && [ "$sid" != null ] || { echo "cannot read the session id from the minted token" >&2; exit 1; }
    cat >>"$work/proxy.conf" <<CONF
proxy_set_header x-request-id \$request_id;
proxy_set_header x-member-id 1;
proxy_set_header x-member-role ROLE_USER;
proxy_set_header x-session-id $sid;
proxy_set_header authorization "Bearer \$cookie_gallery_cookie";
CONF
fi
sed -e "s#@WORK@#$work#g" -e "s#@UPSTREAM_PORT@#$UPSTREAM_PORT#g" -e "s#@NGINX_PORT@#$NGINX_PORT#g" \
    bench/gateway/nginx.conf.template >"$work/nginx.conf"
taskset -c "$PROXY_CPU" nginx -c "$work/nginx.conf" -p "$work" & pids+=($!); nginx_pid=$!

PORT=$GATEWAY_PORT BIND_ADDR=127.0.0.1 \
MEMBER_SERVER=127.0.0.1:$UPSTREAM_PORT GALLERY_SERVER=127.0.0.1:$UPSTREAM_PORT POST_SERVER=127.0.0.1:$UPSTREAM_PORT \
JWT_PUBLIC_KEYS_FILE=$work/public.pem LOG_FORMAT=json RUST_LOG=info \
    taskset -c "$PROXY_CPU" "$bin" gateway 2>"$work/gateway.log" & pids+=($!); gateway_pid=$!

# The traced gateways: the same binary and configuration, plus the standard OTEL_* variables.
# Run in the background: `exec` makes $! the gateway itself, so cleanup and the CPU figures reach it.
traced_gateway() {
    local port=$1 ratio=$2
    PORT=$port BIND_ADDR=127.0.0.1 \
    MEMBER_SERVER=127.0.0.1:$UPSTREAM_PORT GALLERY_SERVER=127.0.0.1:$UPSTREAM_PORT POST_SERVER=127.0.0.1:$UPSTREAM_PORT \
    JWT_PUBLIC_KEYS_FILE=$work/public.pem LOG_FORMAT=json RUST_LOG=info \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT OTEL_SERVICE_NAME=gateway \
    OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=$ratio \
        exec taskset -c "$PROXY_CPU" "$bin" gateway 2>"$work/gateway-$port.log"
}
if wants traced1 || wants traced100; then
    TOKIO_WORKER_THREADS=1 taskset -c "$LOAD_CPU" "$bin" otlp-sink "127.0.0.1:$SINK_PORT" & pids+=($!)
    wait_port "$SINK_PORT"
fi
if wants traced1; then traced_gateway "$TRACED1_PORT" 0.01 & pids+=($!); traced1_pid=$!; wait_port "$TRACED1_PORT"; fi
if wants traced100; then traced_gateway "$TRACED100_PORT" 1.0 & pids+=($!); traced100_pid=$!; wait_port "$TRACED100_PORT"; fi

if wants scg; then
    # Reactor Netty's access log is the counterpart of nginx's and the gateway's (logback-spring.xml).
    scg_started=$(date +%s%N)
    # shellcheck disable=SC2086 # SCG_JVM_OPTS is a list of flags
    SCG_PORT=$SCG_PORT UPSTREAM_URI=http://127.0.0.1:$UPSTREAM_PORT SCG_ACCESS_LOG=$work/scg-access.log \
        taskset -c "$PROXY_CPU" java $SCG_JVM_OPTS -Dreactor.netty.http.server.accessLogEnabled=true -jar "$scg_jar" \
        >"$work/scg.log" 2>&1 & pids+=($!); scg_pid=$!
fi

wait_port "$UPSTREAM_PORT"; wait_port "$NGINX_PORT"; wait_port "$GATEWAY_PORT"
if wants scg; then
    wait_port "$SCG_PORT" 60 || { cat "$work/scg.log" >&2; exit 1; }
    scg_ready_ms=$((($(date +%s%N) - scg_started) / 1000000))
fi
cookie="Cookie: gallery_cookie=$token"
check() { local got; got=$(curl -s -o /dev/null -w '%{http_code}' "${@:2}"); [ "$got" = "$1" ] || { echo "sanity check failed: ${*:2} gave $got, wanted $1" >&2; exit 1; }; }
check 200 "http://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST"
check 200 -H "$cookie" "http://127.0.0.1:$GATEWAY_PORT$PATH_UNDER_TEST"
check 400 "http://127.0.0.1:$GATEWAY_PORT$PATH_UNDER_TEST"
if wants traced1; then check 200 -H "$cookie" "http://127.0.0.1:$TRACED1_PORT$PATH_UNDER_TEST"; fi
if wants traced100; then check 200 -H "$cookie" "http://127.0.0.1:$TRACED100_PORT$PATH_UNDER_TEST"; fi
if wants scg; then
    check 200 "http://127.0.0.1:$SCG_PORT$PATH_UNDER_TEST"
    check 404 "http://127.0.0.1:$SCG_PORT/other"
    # The JVM shares the proxy CPU; its JIT and GC threads would keep taking time from the other
    # peers' runs, so it is stopped except while it is measured.
    kill -STOP "$scg_pid"
fi

# All pids of a process tree (nginx: master and worker).
tree() { echo "$1"; pgrep -P "$1" || true; }
cpu_ticks() { local sum=0; for p in $(tree "$1"); do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$sum"; }
peak_rss_kb() { local sum=0; for p in $(tree "$1"); do sum=$((sum + $(awk '/VmHWM/ {print $2}' "/proc/$p/status"))); done; echo "$sum"; }
hz=$(getconf CLK_TCK)

declare -A url header pid
# Every peer gets the same request, the signed-in member's cookie included.
url[direct]="http://127.0.0.1:$UPSTREAM_PORT$PATH_UNDER_TEST"; header[direct]="$cookie"; pid[direct]=$upstream_pid
url[nginx]="http://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST"; header[nginx]="$cookie"; pid[nginx]=$nginx_pid
url[gateway]="http://127.0.0.1:$GATEWAY_PORT$PATH_UNDER_TEST"; header[gateway]="$cookie"; pid[gateway]=$gateway_pid
url[scg]="http://127.0.0.1:$SCG_PORT$PATH_UNDER_TEST"; header[scg]="$cookie"; pid[scg]=${scg_pid:-}
url[traced1]="http://127.0.0.1:$TRACED1_PORT$PATH_UNDER_TEST"; header[traced1]="$cookie"; pid[traced1]=${traced1_pid:-}
url[traced100]="http://127.0.0.1:$TRACED100_PORT$PATH_UNDER_TEST"; header[traced100]="$cookie"; pid[traced100]=${traced100_pid:-}
declare -A warmup=([direct]=2s [nginx]=2s [gateway]=2s [traced1]=2s [traced100]=2s [scg]=$SCG_WARMUP)

declare -A rps lat50 lat99 cpu
max_run() {
    local peer=$1 before after out requests
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${warmup[$peer]}" -H "${header[$peer]}" "${url[$peer]}" >/dev/null
    before=$(cpu_ticks "${pid[$peer]}")
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "${header[$peer]}" "${url[$peer]}")
    after=$(cpu_ticks "${pid[$peer]}")
    echo "$out" >"$work/wrk-$peer.txt"
    grep -q "Non-2xx" <<<"$out" && { echo "$peer answered errors:" >&2; echo "$out" >&2; exit 1; }
    rps[$peer]=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu[$peer]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.2f", t / hz / n * 100000}')
}
fixed_run() {
    local peer=$1 report
    if [ "$peer" = scg ]; then
        echo "GET ${url[$peer]}" | taskset -c "$LOAD_CPU" vegeta attack -rate="$RATE" -duration="$SCG_RATE_WARMUP" \
            -header "${header[$peer]}" -keepalive=true -max-workers=256 >/dev/null
    fi
    report=$(echo "GET ${url[$peer]}" | taskset -c "$LOAD_CPU" vegeta attack -rate="$RATE" -duration="$DURATION" \
        -header "${header[$peer]}" -keepalive=true -max-workers=256 | vegeta report -type=json)
    lat50[$peer]=$(jq -r '.latencies["50th"] / 1000 | floor' <<<"$report")
    lat99[$peer]=$(jq -r '.latencies["99th"] / 1000 | floor' <<<"$report")
    local ok; ok=$(jq -r '.success' <<<"$report")
    [ "$ok" = "1" ] || echo "warning: $peer success ratio $ok at $RATE/s" >&2
    jq -c '{rate, throughput, success}' <<<"$report" >"$work/vegeta-$peer.json"
}

# The goal's rate: latency from the intended send time, at half the direct maximum. The generator
# runs as SCHED_IDLE on the CPU it shares with the upstream: it waits for its send times by yielding
# (tokio's timers are 1 ms coarse, and a sleeping thread woke up to a scheduler slice late there),
# so at normal priority it held the CPU for whole slices while the upstream waited (direct p99
# 3.3 ms at 20k/s); idle, it gives way the moment the upstream wakes (p99 ~0.1-0.4 ms), and any
# wait of its own shows as send lag, charged to the latency. A peer whose wrk maximum is more than
# 10% below the rate (scg, at about a third of it) is not run: its queue would only grow for the
# whole run, and the latency would measure the run's length, not the proxy. Within 10% it runs,
# since wrk's maximum varies about that much from run to run; one that falls behind shows it in
# the achieved rate and its unfinished requests.
half_run() {
    local peer=$1 rate=$2 key="$1@$2@$3"
    [ $((rps[$peer] * 10)) -ge $((rate * 9)) ] || { half[$key]=; return; }
    chrt --idle 0 taskset -c "$LOAD_CPU" "$load" "${url[$peer]}" "$rate" 2 "$LOAD_CONNS" "${header[$peer]}" >/dev/null
    half[$key]=$(chrt --idle 0 taskset -c "$LOAD_CPU" "$load" "${url[$peer]}" "$rate" "${DURATION%s}" "$LOAD_CONNS" "${header[$peer]}")
    jq -e '.errors == 0 and .unfinished == 0' <<<"${half[$key]}" >/dev/null ||
        echo "warning: $peer failed requests at $rate/s: ${half[$key]}" >&2
}

# Runs "$@" with the peer's process running (only scg is ever paused).
with_peer() {
    local peer=$1; shift
    [ "$peer" != scg ] || kill -CONT "$scg_pid"
    "$@"
    [ "$peer" != scg ] || kill -STOP "$scg_pid"
}

for peer in "${peers[@]}"; do with_peer "$peer" max_run "$peer"; done

# Paired rounds. This machine's speed drifts by 10-30% within minutes (a shared VM: direct alone
# ranged 84k-112k req/s between runs), more than the differences being judged, so one run per peer
# can rank them either way. Each round measures every proxy back to back for ROUND_DURATION; the
# ratios within a round compare like with like, and their median is the figure the goals use.
ROUNDS=${ROUNDS:-5}
ROUND_DURATION=${ROUND_DURATION:-5s}
declare -A round_rps round_cpu round_up
round_run() {
    local peer=$1 round=$2 before after up_before up_after out requests
    before=$(cpu_ticks "${pid[$peer]}"); up_before=$(cpu_ticks "$upstream_pid")
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$ROUND_DURATION" -H "${header[$peer]}" "${url[$peer]}")
    after=$(cpu_ticks "${pid[$peer]}"); up_after=$(cpu_ticks "$upstream_pid")
    grep -q "Non-2xx" <<<"$out" && { echo "$peer answered errors:" >&2; echo "$out" >&2; exit 1; }
    round_rps[$peer@$round]=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    round_cpu[$peer@$round]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.1f", t / hz / n * 1000000}')
    round_up[$peer@$round]=$(awk -v t=$((up_after - up_before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.1f", t / hz / n * 1000000}')
}
proxies=()
for peer in "${peers[@]}"; do [ "$peer" = direct ] || proxies+=("$peer"); done
for round in $(seq "$ROUNDS"); do
    for peer in "${proxies[@]}"; do with_peer "$peer" round_run "$peer" "$round"; done
done
# vegeta's rate, kept so that its columns compare with earlier runs; one core of vegeta tops out
# near 15-20k/s here, and at 5000/s its own latency (p50 ~250 µs direct, against 15 µs from wrk -c1
# and bench_load) is most of what it reports.
RATE=${RATE:-5000}
for peer in "${peers[@]}"; do with_peer "$peer" fixed_run "$peer"; done
HALF_RATE=${HALF_RATE:-$((rps[direct] / 2))}
# Here half the direct maximum is about the single-core maximum of nginx and the gateway alike (the
# upstream and the load share CPU 0), so the same measurement also runs at a rate both sustain.
OPEN_RATES=${OPEN_RATES:-"$HALF_RATE 25000"}
# A p99 of one 5 s run is decided by the few stalls this VM has in it (direct alone once measured
# p99 2.1 ms at 40k/s, 28 µs the next minute), so the open loop runs in rounds too, every peer
# back to back at each rate, and the table gives the median of the rounds beside each round's p99.
OPEN_ROUNDS=${OPEN_ROUNDS:-5}
declare -A half
for round in $(seq "$OPEN_ROUNDS"); do
    for rate in $OPEN_RATES; do
        for peer in "${peers[@]}"; do with_peer "$peer" half_run "$peer" "$rate" "$round"; done
    done
done

echo
echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load on CPU $LOAD_CPU, proxy on CPU $PROXY_CPU"
echo "wrk -t1 -c$CONNS -d$DURATION after a ${warmup[direct]} warm-up (scg: $SCG_WARMUP, and $SCG_RATE_WARMUP at the fixed rate); fixed rate $RATE req/s for $DURATION (vegeta); GET $PATH_UNDER_TEST"
echo
echo "| peer | max req/s | p50 µs at $RATE/s | p99 µs at $RATE/s | CPU-s per 100k req | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for peer in "${peers[@]}"; do
    rss=$(awk -v k="$(peak_rss_kb "${pid[$peer]}")" 'BEGIN {printf "%.1f", k / 1024}')
    echo "| $peer | ${rps[$peer]} | ${lat50[$peer]} | ${lat99[$peer]} | ${cpu[$peer]} | $rss |"
done
echo
echo "Paired rounds: wrk -t1 -c$CONNS -d$ROUND_DURATION for each proxy in turn, $ROUNDS rounds (req/s, the proxy's CPU µs per request, and the upstream's on the load CPU; nginx forwards the gateway's headers: NGINX_IDENTITY=${NGINX_IDENTITY:-1}):"
echo
ratio_of() { awk -v a="${round_rps[$1@$3]}" -v b="${round_rps[$2@$3]}" 'BEGIN {printf "%.2f", a / b}'; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
columns="| round |"; rule="|---|"
for peer in "${proxies[@]}"; do columns+=" $peer req/s | $peer µs/req | upstream µs/req |"; rule+="---|---|---|"; done
wants nginx && wants gateway && { columns+=" gateway / nginx |"; rule+="---|"; }
wants scg && wants gateway && { columns+=" gateway / scg |"; rule+="---|"; }
echo "$columns"; echo "$rule"
for round in $(seq "$ROUNDS"); do
    line="| $round |"
    for peer in "${proxies[@]}"; do line+=" ${round_rps[$peer@$round]} | ${round_cpu[$peer@$round]} | ${round_up[$peer@$round]} |"; done
    wants nginx && wants gateway && line+=" $(ratio_of gateway nginx "$round") |"
    wants scg && wants gateway && line+=" $(ratio_of gateway scg "$round") |"
    echo "$line"
done
line="| median |"
for peer in "${proxies[@]}"; do
    line+=" $(for r in $(seq "$ROUNDS"); do echo "${round_rps[$peer@$r]}"; done | median) |"
    line+=" $(for r in $(seq "$ROUNDS"); do echo "${round_cpu[$peer@$r]}"; done | median) |"
    line+=" $(for r in $(seq "$ROUNDS"); do echo "${round_up[$peer@$r]}"; done | median) |"
done
wants nginx && wants gateway && line+=" $(for r in $(seq "$ROUNDS"); do ratio_of gateway nginx "$r"; echo; done | median) |"
wants scg && wants gateway && line+=" $(for r in $(seq "$ROUNDS"); do ratio_of gateway scg "$r"; echo; done | median) |"
echo "$line"
echo
echo "Open loop (bench_load, $LOAD_CONNS connections, latency from the intended send time), $OPEN_ROUNDS rounds of $DURATION after 2s at the rate, every peer in turn in each round; $HALF_RATE/s is half the direct maximum. Medians of the rounds; p99 added is the peer's p99 less direct's in the same round:"
echo
echo "| peer | rate | lowest achieved | failed + unfinished | p50 µs | p99 µs | p99 of each round µs | p99 added over direct µs |"
echo "|---|---|---|---|---|---|---|---|"
# Field $3 of peer $1's runs at rate $2, one line per round.
open_field() { for r in $(seq "$OPEN_ROUNDS"); do jq -r ".$3" <<<"${half[$1@$2@$r]}"; done; }
for rate in $OPEN_RATES; do
    for peer in "${peers[@]}"; do
        if [ -z "${half[$peer@$rate@1]}" ]; then
            echo "| $peer | $rate | n/a (max ${rps[$peer]}/s, below the rate) | | | | | |"
            continue
        fi
        lowest=$(open_field "$peer" "$rate" achieved | sort -n | head -1)
        lost=$(for r in $(seq "$OPEN_ROUNDS"); do jq -r '.errors + .unfinished' <<<"${half[$peer@$rate@$r]}"; done | awk '{s += $1} END {print s}')
        each=$(open_field "$peer" "$rate" p99_us | paste -sd/ | sed 's#/# / #g')
        added=-
        if [ "$peer" != direct ]; then
            added=$(paste <(open_field "$peer" "$rate" p99_us) <(open_field direct "$rate" p99_us) | awk '{print $1 - $2}' | median)
        fi
        echo "| $peer | $rate | $lowest | $lost | $(open_field "$peer" "$rate" p50_us | median) | $(open_field "$peer" "$rate" p99_us | median) | $each | $added |"
    done
done
echo
echo "An achieved rate below the rate means the peer fell behind: its queue grew for the whole run, and its latencies measure that."
echo
for peer in "${peers[@]}"; do
    echo "--- wrk $peer"; grep -E "Latency|50%|99%|Requests/sec" "$work/wrk-$peer.txt"; cat "$work/vegeta-$peer.json"
    for round in $(seq "$OPEN_ROUNDS"); do
        for rate in $OPEN_RATES; do
            [ -z "${half[$peer@$rate@$round]}" ] || echo "bench_load $rate/s, round $round: ${half[$peer@$rate@$round]}"
        done
    done
done

if wants traced1 || wants traced100; then
    # The exports the stand-in collector answered: proof that the traced peers exported.
    echo "--- otlp-sink: $(curl -s "http://127.0.0.1:$SINK_PORT/count") (traced1 samples 1 %, traced100 every request; spans past a full queue of 4096 are dropped, not waited for)"
fi

# Two replicas behind each proxy, one killed KILL_AT seconds into a KILL_DURATION run at KILL_RATE:
# the requests that failed. nginx as a user would configure it: both servers in one upstream block,
# proxy_next_upstream error timeout (its default, retrying idempotent requests on the other server).
# The gateway: MEMBER_SERVER lists both. Own processes and ports, so the main peers are untouched.
KILL_RATE=${KILL_RATE:-5000}
KILL_DURATION=${KILL_DURATION:-20}
KILL_AT=${KILL_AT:-5}
if [ "$KILL_RATE" -gt 0 ] && wants nginx && wants gateway; then
    replica_a=$((UPSTREAM_PORT + 20)); replica_b=$((UPSTREAM_PORT + 21))
    nginx2_port=$((NGINX_PORT + 30)); gateway2_port=$((GATEWAY_PORT + 30))
    start_replica() { TOKIO_WORKER_THREADS=1 taskset -c "$LOAD_CPU" "$bin" upstream "127.0.0.1:$1" & pids+=($!); wait_port "$1"; }
    start_replica "$replica_a"; pid_a=$!
    start_replica "$replica_b"; pid_b=$!
    sed -e "s#@WORK@#$work/kill#g" -e "s#server 127.0.0.1:@UPSTREAM_PORT@;#server 127.0.0.1:$replica_a; server 127.0.0.1:$replica_b;#" \
        -e "s#@NGINX_PORT@#$nginx2_port#g" -e "s#include $work/kill/proxy.conf;#include $work/proxy.conf; proxy_next_upstream error timeout;#g" \
        bench/gateway/nginx.conf.template >"$work/nginx-kill.conf"
    mkdir -p "$work/kill"
    taskset -c "$PROXY_CPU" nginx -c "$work/nginx-kill.conf" -p "$work/kill" & pids+=($!)
    PORT=$gateway2_port BIND_ADDR=127.0.0.1 \
    MEMBER_SERVER=127.0.0.1:$replica_a,127.0.0.1:$replica_b GALLERY_SERVER=127.0.0.1:$replica_a POST_SERVER=127.0.0.1:$replica_a \
    JWT_PUBLIC_KEYS_FILE=$work/public.pem LOG_FORMAT=json RUST_LOG=warn ACCESS_LOG=false \
        taskset -c "$PROXY_CPU" "$bin" gateway 2>"$work/gateway-kill.log" & pids+=($!)
    wait_port "$nginx2_port"; wait_port "$gateway2_port"
    declare -A kill_url=([nginx]="http://127.0.0.1:$nginx2_port$PATH_UNDER_TEST" [gateway]="http://127.0.0.1:$gateway2_port$PATH_UNDER_TEST")
    declare -A killed
    for peer in nginx gateway; do
        chrt --idle 0 taskset -c "$LOAD_CPU" "$load" "${kill_url[$peer]}" "$KILL_RATE" 2 "$LOAD_CONNS" "${header[$peer]}" >/dev/null
        chrt --idle 0 taskset -c "$LOAD_CPU" "$load" "${kill_url[$peer]}" "$KILL_RATE" "$KILL_DURATION" "$LOAD_CONNS" "${header[$peer]}" >"$work/kill-$peer.json" &
        load_pid=$!
        sleep "$KILL_AT"; kill -KILL "$pid_b"; wait "$pid_b" 2>/dev/null || true
        wait "$load_pid"
        killed[$peer]=$(cat "$work/kill-$peer.json")
        start_replica "$replica_b"; pid_b=$!
    done
    echo
    echo "Replica killed: 2 upstream replicas, one killed (SIGKILL) ${KILL_AT}s into ${KILL_DURATION}s at $KILL_RATE/s (bench_load, $LOAD_CONNS connections); nginx with proxy_next_upstream error timeout:"
    echo
    echo "| peer | achieved | failed | unfinished | p99 µs |"
    echo "|---|---|---|---|---|"
    for peer in nginx gateway; do
        jq -r --arg peer "$peer" '"| \($peer) | \(.achieved) | \(.errors) | \(.unfinished) | \(.p99_us) |"' <<<"${killed[$peer]}"
    done
    echo
fi
if wants scg; then
    scg_version=$(jar tf "$scg_jar" | sed -n 's#^BOOT-INF/lib/spring-cloud-gateway-server-webflux-\(.*\)\.jar$#\1#p')
    boot_version=$(jar tf "$scg_jar" | sed -n 's#^BOOT-INF/lib/spring-boot-\([0-9.]*\)\.jar$#\1#p')
    echo "--- scg: Spring Cloud Gateway $scg_version on Spring Boot $boot_version, $(java -version 2>&1 | head -1), $SCG_JVM_OPTS; port open ${scg_ready_ms} ms after start"
fi
