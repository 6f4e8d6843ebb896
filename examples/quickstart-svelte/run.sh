#!/usr/bin/env bash
# Builds and runs the Svelte UI of the quickstart, from any directory:
#
#   bash examples/quickstart-svelte/run.sh [SERVER FLAGS...]   build everything, then serve
#   bash examples/quickstart-svelte/run.sh --test              build everything, then run the browser test
#
# The steps are examples/quickstart/web.sh's, shared with the other front
# end of the quickstart.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../quickstart/web.sh" svelte "$@"
