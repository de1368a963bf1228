#!/usr/bin/env python3
"""The file graph of the library, for reviewing its layering.

    file_graph.py SRC_DIR                   a -> b when file a #includes file b
    file_graph.py --nm LIBUVPROC_A [folders] a -> b when a's object uses a symbol b's defines
                                            ("folders": objects are named <folder>_<file>.c.o)

Prints: files; edges and cross-folder edges; levels (of the condensed graph, cycles as one
node, and of a layered drawing once the DFS back edges are set aside); upward edges (those DFS
back edges: the ones that point up however the files are layered); cycles; and edges that break
the folder rule (common <- launcher <- process <- ipc <- {pool, cluster}; common <- threads):
a private header, or an internal uvproc__ symbol, of a folder the file may not reach."""
import os, re, sys
from collections import defaultdict

import subprocess
src = sys.argv[1]
if src == "--nm":
    # The call graph between files: a -> b when a's object uses a symbol b's object defines.
    out = subprocess.run(["nm", "-A", sys.argv[2]], capture_output=True, text=True).stdout
    defs, uses = {}, defaultdict(set)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        p0 = parts[0] if parts[0].endswith(":") else parts[0].rsplit(":", 1)[0]
        obj = p0.rstrip(":").split(":")[-1].replace(".c.o", ".c")
        # flat objects are named file.c.o, foldered ones folder_file.c.o
        for fo in ("common", "launcher", "process", "ipc", "pool", "cluster", "threads"):
            if obj.startswith(fo + "_") and len(sys.argv) > 3:
                obj = fo + "/" + obj[len(fo) + 1:]
                break
        typ, sym = parts[-2], parts[-1]
        if typ == "U":
            uses[obj].add(sym)
        elif typ in "TDBRC" :
            defs[sym] = obj
    files = sorted(set(uses) | set(defs.values()))
    edges = set()
    internal = set()
    for a, syms in uses.items():
        for sy in syms:
            b = defs.get(sy)
            if b is not None and b != a:
                edges.add((a, b))
                if sy.startswith("uvproc__"):
                    internal.add((a, b))
else:
  files = []
  for d, _, fs in os.walk(src):
    for f in fs:
        if f.endswith(('.c', '.h')):
            files.append(os.path.relpath(os.path.join(d, f), src))
  files.sort()
  fileset = set(files)
  inc = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
  edges = set()
  for f in files:
    text = open(os.path.join(src, f), encoding='utf-8', errors='replace').read()
    for m in inc.finditer(text):
        name = m.group(1)
        cand = os.path.normpath(os.path.join(os.path.dirname(f), name))
        if cand in fileset:
            edges.add((f, cand))
        elif os.path.normpath(name) in fileset:
            edges.add((f, os.path.normpath(name)))
adj = defaultdict(list)
for a, b in edges:
    adj[a].append(b)
# Tarjan
index, low, onstack, stack, comp = {}, {}, set(), [], {}
counter = [0]; comps = []
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); onstack.add(v)
    for w in adj[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in onstack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); onstack.discard(w); comp[w] = len(comps); c.append(w)
            if w == v: break
        comps.append(c)
sys.setrecursionlimit(10000)
for f in files:
    if f not in index:
        strong(f)
cadj = defaultdict(set)
for a, b in edges:
    if comp[a] != comp[b]:
        cadj[comp[a]].add(comp[b])
level = {}
def lv(c):
    if c not in level:
        level[c] = 0
        level[c] = 1 + max((lv(d) for d in cadj[c]), default=-1)
    return level[c]
for c in range(len(comps)):
    lv(c)
cycles = [sorted(c) for c in comps if len(c) > 1]
in_cycle = sum(1 for a, b in edges if comp[a] == comp[b])
connected = {f for e in edges for f in e}
allowed = {"common": {"common"}, "launcher": {"common", "launcher"},
           "process": {"common", "launcher", "process"},
           "ipc": {"common", "launcher", "process", "ipc"},
           "pool": {"common", "pool"}, "cluster": {"common", "cluster"},
           "threads": {"common", "threads"}}
def folder(f):
    return f.split('/')[0] if '/' in f else '(flat)'
cross = [(a, b) for a, b in edges if folder(a) != folder(b)]
bad = [(a, b) for a, b in cross if folder(a) in allowed and folder(b) not in allowed[folder(a)]
       and (src != "--nm" or (a, b) in internal)]
# Upward edges in a layered drawing: DFS back edges (files visited in name order), i.e. the
# edges that must point up whatever the levels, one per cycle at least.
color, back = {}, []
def dfs(v):
    color[v] = 1
    for w in sorted(adj[v]):
        if color.get(w) == 1:
            back.append((v, w))
        elif w not in color:
            dfs(w)
    color[v] = 2
for f in files:
    if f not in color:
        dfs(f)
# Longest-path levels of the graph without its back edges (what a layered drawing shows).
dag = defaultdict(set)
for a, b in edges:
    if (a, b) not in set(back):
        dag[a].add(b)
memo = {}
def depth(v):
    if v not in memo:
        memo[v] = 1 + max((depth(w) for w in dag[v]), default=-1)
    return memo[v]
drawn_levels = 1 + max(depth(f) for f in files)
rank = {"common": 0, "launcher": 1, "process": 2, "ipc": 3, "pool": 4, "cluster": 4, "threads": 1}
def up(a, b):
    fa, fb = folder(a), folder(b)
    if fa == fb or fa not in rank or fb not in rank:
        return False
    if fa == "threads" or fb == "threads":
        return fb != "common"
    return rank[fb] >= rank[fa]
print(f"files: {len(files)} ({len(connected)} in the graph)")
print(f"levels of the drawing without back edges: {drawn_levels}")
print(f"upward edges (DFS back edges): {len(back)}")
print(f"cross-folder edges against the layering: {sum(1 for a, b in edges if up(a, b))}")
print(f"edges: {len(edges)}; cross-folder: {len(cross)}")
print(f"levels: {1 + max(level.values())}")
print(f"edges inside cycles (pointing 'up' within their component): {in_cycle}")
print(f"cycles: {len(cycles)}")
for c in cycles:
    print("   ", " ".join(c))
print(f"folder-rule violations (a private header or an internal uvproc__ symbol of a folder it may not reach): {len(bad)}")
for a, b in bad:
    print("   ", a, "->", b)
