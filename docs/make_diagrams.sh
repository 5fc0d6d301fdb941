#!/usr/bin/env bash
# Draws the circuit diagrams README.md and docs/commands/graph.md show, with bpcli itself: the DOT text
# (tests/test_diagram.py checks it is what bpcli prints today) and the SVG that
# Graphviz's dot renders from it. Run from anywhere, with bpcli and dot on PATH.
set -euo pipefail
cd "$(dirname "$0")"

draw() {
    local name=$1
    shift
    bpcli graph "$@" --format dot --out "$name.dot"
    bpcli graph "$@" --format svg --out "$name.svg"
}

draw add-multiply "(x+y)*z" -x -2 -y 5 -z -4
draw notes-example "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)" -x 3 -y -4
draw neuron-expanded "sigmoid(w0*x0 + w1*x1 + w2)" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3 --expand
