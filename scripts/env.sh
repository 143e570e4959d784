# Sourced (not run) by the scripts in this directory: the defaults they share, each applied
# only when the caller has not set it. This is the one place they are defined.
#
#   CARGO_TARGET_DIR   $HOME/.cache/burgee/target: outside the clone, so repeated runs (and
#                      several clones) on one machine reuse their builds. scripts/fuzz keeps
#                      its nightly builds apart in $HOME/.cache/burgee/fuzz-target.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burgee/target}"
