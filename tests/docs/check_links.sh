#!/usr/bin/env bash
# Checks the relative links of the project's Markdown: every [text](target) in README.md and
# docs/**/*.md must name a file or folder that exists inside the repository (a link that leaves
# it is dead for whoever clones the project).
#   tests/docs/check_links.sh REPO_ROOT
# Ignored: http(s):, mailto: and pure #anchor targets. A #anchor suffix is stripped (anchors
# themselves are not checked). Targets resolve against the folder of the Markdown file. Links in
# fenced code blocks and inline code spans are not links. Exit status 1 lists file:line: target
# for each broken link.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: check_links.sh REPO_ROOT" >&2; exit 2; }
root=$(cd "$1" && pwd)

files=()
[ -f "$root/README.md" ] && files+=("$root/README.md")
if [ -d "$root/docs" ]; then
    while IFS= read -r -d '' f; do files+=("$f"); done \
        < <(find "$root/docs" -name '*.md' -type f -print0 | sort -z)
fi
[ ${#files[@]} -gt 0 ] || { echo "check_links: no Markdown files under $root" >&2; exit 1; }

bad=0
checked=0
for f in "${files[@]}"; do
    dir=$(dirname "$f")
    rel=${f#"$root"/}
    # One "LINE<TAB>TARGET" per link: outside ``` fences, with `code spans` removed first.
    while IFS=$'\t' read -r line target; do
        [ -n "$target" ] || continue
        checked=$((checked + 1))
        # A title after the target ([t](path "title")) is not part of the path.
        target=${target%% *}
        case $target in
            http://* | https://* | mailto:* | '#'*) continue ;;
        esac
        path=${target%%#*}
        [ -n "$path" ] || continue
        if [[ $path == /* ]]; then
            resolved=$root$path
        else
            resolved=$dir/$path
        fi
        if [ ! -e "$resolved" ]; then
            echo "$rel:$line: $target (no such file)"
            bad=1
            continue
        fi
        real=$(realpath -m "$resolved")
        if [ "$real" != "$root" ] && [[ $real != "$root"/* ]]; then
            echo "$rel:$line: $target (outside the repository)"
            bad=1
        fi
    done < <(awk '
        /^[[:space:]]*(```|~~~)/ { fence = !fence; next }
        fence { next }
        {
            s = $0
            gsub(/`[^`]*`/, "", s)
            while (match(s, /\]\([^)]*\)/)) {
                t = substr(s, RSTART + 2, RLENGTH - 3)
                gsub(/^[[:space:]]+|[[:space:]]+$/, "", t)
                sub(/^</, "", t); sub(/>$/, "", t)
                printf "%d\t%s\n", NR, t
                s = substr(s, RSTART + RLENGTH)
            }
        }' "$f")
done

if [ "$bad" -ne 0 ]; then
    echo "check_links: broken links (above)" >&2
    exit 1
fi
echo "check_links: ${#files[@]} files, $checked links, all resolve"
