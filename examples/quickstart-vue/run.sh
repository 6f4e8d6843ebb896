#!/usr/bin/env bash
# Builds and runs the Vue UI of the quickstart, from any directory:
#
#   bash examples/quickstart-vue/run.sh [SERVER FLAGS...]   build everything, then serve
#   bash examples/quickstart-vue/run.sh --test              build everything, then run the browser test
#
# The steps are examples/quickstart/web.sh's, shared with the other front
# end of the quickstart.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../quickstart/web.sh" vue "$@"
