#!/usr/bin/env python3
"""Checks every relative link, and its #anchor, in the repository's Markdown files (tracked and
untracked-but-not-ignored), so the README and docs/ work from a clone. Anchors follow GitHub's
rule: the heading lower-cased, punctuation other than `-` and `_` dropped, spaces to `-`, and a
`-N` suffix for the Nth repeat. Links with a scheme (https:, mailto:) are not checked.

Usage: .ci/check_links.py [REPO_DIR]   (exit 1 and one line per broken link)"""
import os, re, sys, subprocess
root = sys.argv[1] if len(sys.argv) > 1 else '.'
files = subprocess.run(['git', '-C', root, 'ls-files', '*.md'], capture_output=True, text=True).stdout.split()
files += [f for f in subprocess.run(['git','-C',root,'ls-files','--others','--exclude-standard','*.md'],capture_output=True,text=True).stdout.split()]
def anchors(path):
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    out = set(); seen = {}
    for m in re.finditer(r'^#{1,6} (.+?)\s*$', text, flags=re.M):
        h = m.group(1).strip().lower()
        h = re.sub(r'[^\w\- ]', '', h)  # GitHub: drop punctuation except - and _
        h = h.replace(' ', '-')
        n = seen.get(h, 0); seen[h] = n + 1
        out.add(h if n == 0 else f'{h}-{n}')
    return out
bad = 0
for f in files:
    path = os.path.join(root, f)
    text = open(path, encoding='utf-8').read()
    text_nocode = re.sub(r'```.*?```', '', text, flags=re.S)
    for m in re.finditer(r'\[[^\]]*\]\(([^)\s]+)\)', text_nocode):
        target = m.group(1)
        if re.match(r'[a-z]+:', target): continue
        file_part, _, anchor = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(dest):
            print(f'{f}: missing target {target}'); bad += 1; continue
        if anchor and dest.endswith('.md') and anchor not in anchors(dest):
            print(f'{f}: missing anchor {target}'); bad += 1
print(f'{bad} broken link(s)'); sys.exit(1 if bad else 0)
