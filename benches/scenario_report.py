#!/usr/bin/env python3
"""Tables and JSON of benches/scenario.sh: reads OUT/{meta,raw,sizes,verify,files}.tsv and notes.txt,
prints Markdown to stdout and writes OUT/results.json (stdlib only).

    python3 benches/scenario_report.py OUT
"""
import json, os, statistics, sys

out = sys.argv[1]
meta = {}
for line in open(os.path.join(out, "meta.tsv")):
    k, _, v = line.rstrip("\n").partition("\t")
    meta[k] = v
rows = []
for line in open(os.path.join(out, "raw.tsv")):
    step, tool, run, rc, w, u, s, m, load = line.rstrip("\n").split("\t")
    def num(x):
        try:
            return float(x)
        except ValueError:
            return None
    rows.append(dict(step=step, tool=tool, run=int(run), rc=int(rc), wall=num(w), user=num(u), sys=num(s),
                     rss_kib=num(m), load1=num(load)))
sizes = {}
for line in open(os.path.join(out, "sizes.tsv")):
    when, tool, b = line.rstrip("\n").split("\t")
    sizes.setdefault(tool, {})[when] = int(b)
verify = {}
for line in open(os.path.join(out, "verify.tsv")):
    tool, f, b, status = line.rstrip("\n").split("\t")
    verify[tool] = dict(files=int(f), bytes=int(b), status=status)
notes = [n for n in open(os.path.join(out, "notes.txt")).read().splitlines() if n]
files_stored = {}
for line in open(os.path.join(out, "files.tsv")):
    tool, n = line.rstrip("\n").split("\t")
    files_stored[tool] = int(n) if n.isdigit() else None

MiB = 1024 * 1024
tree_bytes = int(meta["tree_bytes"])
all_bytes = int(meta["all_bytes"])
tools = []
for r in rows:
    if r["tool"] in ("cairn", "restic", "borg") and r["tool"] not in tools:
        tools.append(r["tool"])

def summary(step, tool):
    rs = [r for r in rows if r["step"] == step and r["tool"] == tool and r["wall"] is not None]
    if not rs:
        return None
    med = lambda k: statistics.median(r[k] for r in rs)
    return dict(
        n=len(rs),
        wall=med("wall"),
        cpu=statistics.median(r["user"] + r["sys"] for r in rs),
        rss_mib=max(r["rss_kib"] for r in rs) / 1024,
        wall_min=min(r["wall"] for r in rs),
        wall_max=max(r["wall"] for r in rs),
        failures=sum(1 for r in rs if r["rc"] != 0),
        runs=[dict((k, r[k]) for k in ("run", "rc", "wall", "user", "sys", "rss_kib", "load1")) for r in rs],
    )

def md(name):
    return name.replace("|", "\\|")

def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"

results = dict(meta=meta, notes=notes, tree=dict(files=int(meta["tree_files"]), bytes=tree_bytes,
               files_with_excluded=int(meta["all_files"]), bytes_with_excluded=all_bytes),
               steps={}, sizes_bytes=sizes, restore_check=verify, files_stored=files_stored)

STEPS = [
    ("init", None, None),
    ("first", "1. First snapshot", "first"),
    ("nochange", f"2. No-change snapshot (median of {meta['runs']})", "nochange"),
    ("hourly", f"3. Hourly snapshot after a tick (median of {meta['ticks']} hours; peak RSS = max)", "ticks"),
    ("restore", "4. Full restore of the latest snapshot", "ticks"),
    ("prune", "5. forget --keep-last 5 --prune (borg: prune --keep-last 5 + compact)", "prune"),
    ("copy", f"6. copy of the {meta['ticks']} hourly snapshots from a local repository to a new S3 one", None),
]
refs = {"first": "tar | zstd -3 -T0 (limit)", "nochange": "stat walk (limit)"}
for step, title, size_key in STEPS:
    res = {}
    for t in tools + [refs.get(step)] + ([r["tool"] for r in rows if r["step"] == "tick"][:1] if step == "hourly" else []):
        if t is None:
            continue
        s = summary("tick" if t.startswith("tick") else step, t)
        if s:
            res[t] = s
    results["steps"][step] = res
    if title is None or not res:
        continue
    print(f"## {title}\n")
    extra = step == "hourly"
    head = "| tool | wall s | CPU s | peak RSS MiB | repo size MiB |" + (" added MiB/hour |" if extra else "")
    if step == "restore":
        head += " restored files | check |"
    if step == "first":
        head += " files stored |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for t, s in res.items():
        size = sizes.get(t, {}).get(size_key)
        if step == "restore" and size is None:
            size = sizes.get(t, {}).get("nochange")
        flag = " (!)" if s["failures"] else ""
        line = f"| {md(t)}{flag} | {fmt(s['wall'])} | {fmt(s['cpu'])} | {fmt(s['rss_mib'], 1)} | " \
               f"{fmt(size / MiB, 1) if size is not None else '-'} |"
        if extra:
            before = sizes.get(t, {}).get("nochange")
            n = int(meta["ticks"]) or 1
            line += f" {fmt((size - before) / MiB / n, 2) if size is not None and before is not None else '-'} |"
        if step == "first":
            n = files_stored.get(t)
            line += f" {n if n is not None else '-'} |"
        if step == "restore":
            v = verify.get(t, {})
            line += f" {v.get('files', '-')} | {v.get('status', '-')} |"
        print(line)
    if step in ("nochange", "hourly") and res:
        spread = ", ".join(f"{t} {fmt(s['wall_min'])}–{fmt(s['wall_max'])}" for t, s in res.items())
        print(f"\nwall range (min–max): {spread}")
    print()

# Ratios.
def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def get(step, tool, key):
    s = results["steps"].get(step, {}).get(tool)
    return None if s is None else s[key]

print("## Ratios\n")
peers = [p for p in ("restic", "borg") if p in tools]
if "cairn" in tools and peers:
    print("| metric | " + " | ".join(f"cairn/{p}" for p in peers) + " |")
    print("| --- |" + " --- |" * len(peers))
    ratios = {}
    for step, label in (("first", "first snapshot"), ("nochange", "no-change snapshot"),
                        ("hourly", "hourly snapshot"), ("restore", "restore"), ("prune", "prune"), ("copy", "copy to S3")):
        for key, kl in (("wall", "wall time"), ("rss_mib", "peak RSS")):
            vals = [ratio(get(step, "cairn", key), get(step, p, key)) for p in peers]
            ratios[f"{step}_{key}"] = dict(zip(peers, vals))
            print(f"| {label} {kl} | " + " | ".join(fmt(v) for v in vals) + " |")
    for when, label in (("first", "repo size after first snapshot"), ("ticks", "repo size after ticks"),
                        ("prune", "repo size after prune")):
        vals = [ratio(sizes.get("cairn", {}).get(when), sizes.get(p, {}).get(when)) for p in peers]
        ratios[f"size_{when}"] = dict(zip(peers, vals))
        print(f"| {label} | " + " | ".join(fmt(v) for v in vals) + " |")
    results["ratios"] = ratios
    print()
else:
    print("(needs cairn and at least one peer)\n")

print("## Throughput and limits\n")
print(f"tree: {tree_bytes / 1e6:.1f} MB in {meta['tree_files']} files without node_modules/target "
      f"({all_bytes / 1e6:.1f} MB in {meta['all_files']} files with them)\n")
print("| what | value |")
print("| --- | --- |")
tp = {}
for t in tools + [refs["first"]]:
    w = get("first", t, "wall")
    if w:
        tp[t] = tree_bytes / 1e6 / w
        print(f"| first snapshot throughput, {md(t)} | {tp[t]:.1f} MB/s of the tree's bytes |")
cw = get("first", "cairn", "wall")
if cw and "cairn snapshot has no --exclude" in " ".join(notes):
    print(f"| cairn, counting node_modules/target it also read | {all_bytes / 1e6 / cw:.1f} MB/s |")
for other in ("restic", "borg", refs["first"]):
    r = ratio(tp.get("cairn"), tp.get(other))
    if r is not None:
        print(f"| cairn throughput / {md(other)} | {r:.2f} |")
r = ratio(get("nochange", "cairn", "wall"), get("nochange", refs["nochange"], "wall"))
if r is not None:
    print(f"| cairn no-change time / stat walk | {r:.1f}x ({fmt(get('nochange', 'cairn', 'wall'))} s vs "
          f"{fmt(get('nochange', refs['nochange'], 'wall'), 3)} s) |")
results["throughput_mb_s"] = tp
print()
if notes:
    print("## Notes\n")
    for n in notes:
        print(f"- {n}")
    print()
loads = [r["load1"] for r in rows if r["load1"] is not None]
cores = os.cpu_count() or 1
if loads:
    med = statistics.median(loads)
    print(f"1-minute load average after each measured command: median {med:.2f}, max {max(loads):.2f} "
          f"on {cores} cores" + (" (BUSY: other processes competed for the CPU; absolute times are inflated, "
                                 "ratios less so since the tools ran interleaved)" if med > cores * 0.75 else "") + "\n")
    results["load1"] = dict(median=med, max=max(loads), cores=cores)
print(f"load average: start {meta.get('load_start')}, end {meta.get('load_end')}; "
      f"raw numbers: {os.path.join(out, 'results.json')}; logs: {os.path.join(out, 'logs')}")
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
