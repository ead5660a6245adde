#!/usr/bin/env bash
# Installs `seqmodels` with its shell completions (bash, zsh, fish) and man pages, all generated
# from the command definitions by swift-argument-parser: the release binary, the completion
# scripts (`seqmodels --generate-completion-script SHELL`) and one man page per command
# (`swift package generate-manual`, then `man seqmodels`, `man seqmodels.tag.train`, …).
#
#   bash Tools/install-shell-support.sh [PREFIX]      # PREFIX defaults to /usr/local (root) or ~/.local
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then prefix=$1
elif [ "$(id -u)" -eq 0 ]; then prefix=/usr/local
else prefix=$HOME/.local
fi
cd "$root"
bash Tools/install-dependencies.sh >/dev/null
swift build -c release --product seqmodels 2>&1 | tail -1
install -d "$prefix/bin" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 755 .build/release/seqmodels "$prefix/bin/seqmodels"
.build/release/seqmodels --generate-completion-script bash > "$prefix/share/bash-completion/completions/seqmodels"
.build/release/seqmodels --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_seqmodels"
.build/release/seqmodels --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/seqmodels.fish"
swift package --allow-writing-to-package-directory generate-manual --multi-page 2>&1 | tail -1
install -m 644 .build/plugins/GenerateManual/outputs/seqmodels/*.1 "$prefix/share/man/man1/"
echo "installed $prefix/bin/seqmodels, completions for bash, zsh and fish, and $(ls .build/plugins/GenerateManual/outputs/seqmodels/*.1 | wc -l) man pages"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "add $prefix/bin to PATH" ;; esac
