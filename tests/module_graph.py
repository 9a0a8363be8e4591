#!/usr/bin/env python3
"""The crate's top-level module graph, and whether it has a cycle.

Reads the DOT output of `cargo modules dependencies` (crate cargo-modules 0.27 works
with Rust 1.95: `cargo install cargo-modules --version 0.27.0 --locked`), collapses
every item to its top-level module (disco::store::jobs::Job -> store) and prints each
module's dependencies, then the cycles (strongly connected components) or "none":

    cargo modules dependencies --lib --no-externs --no-sysroot --no-owns > deps.dot
    python3 tests/module_graph.py deps.dot

Exits 1 when there is a cycle. (`--acyclic` of cargo-modules itself also counts a
method using its own type as a cycle, so it cannot answer this question.)
"""
import re,sys,collections
edges=collections.defaultdict(set)
for line in open(sys.argv[1]):
    m=re.match(r'\s*"([^"]+)" -> "([^"]+)" \[label="uses"',line)
    if not m: continue
    a,b=m.group(1).split('::'),m.group(2).split('::')
    if len(a)<2 or len(b)<2: continue
    ta,tb=a[1],b[1]
    if ta!=tb: edges[ta].add(tb)
nodes=sorted(set(edges)|{x for v in edges.values() for x in v})
# Tarjan SCC
idx={};low={};st=[];on=set();sccs=[];i=[0]
def sc(v):
    idx[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        c=[]
        while True:
            w=st.pop();on.discard(w);c.append(w)
            if w==v:break
        sccs.append(c)
for v in nodes:
    if v not in idx: sc(v)
cyc=[c for c in sccs if len(c)>1]
for n in nodes: print(f"{n:12} -> {', '.join(sorted(edges[n]))}")
print("cycles:", cyc if cyc else "none")
sys.exit(1 if cyc else 0)
