# Sourced by the bench scripts that boot labs (bench/install.sh, bench/cpu.sh), from the
# repository's root: refuses to go on without root, installs the lab's Debian packages if
# missing, builds v6deploy --release and sets `bin` to it.
if [[ $(id -u) -ne 0 ]]; then
  echo "bench: the lab needs root" >&2
  exit 1
fi
scripts/setup-deps.sh --lab
cargo build --release --quiet --bin v6deploy
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/v6deploy")
