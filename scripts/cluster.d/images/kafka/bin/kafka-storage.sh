#!/bin/bash
# kafka-storage.sh format|info|random-uuid ...: KRaft storage formatting.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
