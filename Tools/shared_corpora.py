"""Where the workplace's real corpora are: `../shared/corpora` beside the repository root, or
beside the main checkout when a script runs from a git worktree elsewhere."""
import os
import subprocess


def shared_corpus(*parts):
    """The path of ../shared/corpora/PARTS…, the first candidate that exists (else the first)."""
    relative = os.path.join("..", "shared", "corpora", *parts)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [os.path.join(root, relative)]
    try:
        common = subprocess.run(["git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                capture_output=True, text=True, check=True).stdout.strip()
        candidates.append(os.path.join(os.path.dirname(common), relative))
    except (OSError, subprocess.CalledProcessError):
        pass
    return os.path.normpath(next((c for c in candidates if os.path.exists(c)), candidates[0]))
