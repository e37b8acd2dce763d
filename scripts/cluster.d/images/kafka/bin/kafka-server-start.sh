#!/bin/bash
# kafka-server-start.sh <server.properties>: the broker (and KRaft controller) in the foreground.
set -euo pipefail
base="$(cd "$(dirname "$0")/.." && pwd)"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base/config/log4j2.xml}"
exec "$base/bin/kafka-run-class.sh" kafka.Kafka "$@"
