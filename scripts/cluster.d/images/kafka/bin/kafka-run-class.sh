#!/bin/bash
# Runs one Kafka class with the jars in ../libs, honouring the distribution's variables
# (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS, LOG_DIR, KAFKA_LOG4J_OPTS).
set -euo pipefail
base="$(cd "$(dirname "$0")/.." && pwd)"
LOG_DIR="${LOG_DIR:-$base/logs}"
mkdir -p "$LOG_DIR"
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx256M} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true} \
    ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/tools-log4j2.xml} \
    -Dkafka.logs.dir="$LOG_DIR" ${KAFKA_OPTS:-} \
    -cp "$base/libs/*" "$@"
