#!/usr/bin/env python3
"""xdpbench against the C yardstick (xdpref), the kernel's xdpsock (when you
built it: XDPSOCK=/path/to/xdpsock) and DPDK's testpmd (net_af_xdp, when
installed: scripts/bench-deps.sh) on the veth lab, every tool in every round.

Layout (the one issue 18 measured): the generator (xdpref txonly, the same
for every tool) on CPU 0; the DUT's veth NAPI made threaded and its kthread
pinned to CPU 1, where the DUT runs too, waiting in poll() (xdpbench's
default, xdpref -p, xdpsock -p; testpmd's PMD uses preferred busy polling).
txonly: the sender alone on CPU 1.

What decides is not raw pps (the lab is bimodal) but, per run:
  offered   = the DUT veth's NAPI input (ethtool -S rx_queue_N_xdp_packets delta);
              where veth counted none there (generic mode, packets through
              netif_rx's backlog), its rx_packets delta (ip -s link)
  delivered = packets the tool received / offered
  drops     = XDP_STATISTICS: rx_ring_full (app too slow, RX ring full) and
              fill_ring_empty (no frame to receive into)
and a tool is compared with xdpbench only in rounds where both saw offered
loads within 10% of each other.

Usage: Benchmarks/compare.py [--rounds N] [--seconds S] [--modes rxdrop,l2fwd,txonly]
                             [--attach native,generic] [--tools xdpbench,xdpref,xdpsock,testpmd]
                             [--markdown FILE]
Tools beside those: xdpbench-poll (xdpbench --poll, poll() before every
batch as xdpsock -p does) and xdpbench-before (XDPBENCH_BEFORE=another
xdpbench build: a before/after at the same offered loads).
"""
import argparse, json, os, re, shutil, signal, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWIFT = os.environ.get("XDPBENCH", os.path.join(ROOT, ".build", "release", "xdpbench"))
# Another xdpbench build in the same rounds (tool xdpbench-before): a
# before/after of a change at the same offered loads.
SWIFT_BEFORE = os.environ.get("XDPBENCH_BEFORE")
C = os.path.join(ROOT, "Benchmarks", "reference", "build", "xdpref")
XDPSOCK = os.environ.get("XDPSOCK", "")
TESTPMD = os.environ.get("TESTPMD", shutil.which("dpdk-testpmd") or "")
PMD_DIR = os.environ.get("DPDK_PMD_DIR", "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0")
LAB = f"bc{os.getpid() % 100000}"
PEER_NS, DUT_NS, PEER_IF, DUT_IF = LAB + "p", LAB + "d", LAB + "p0", LAB + "d0"
APP_CPU, GEN_CPU = 1, 0


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def in_dut(cmd):
    return ["nsenter", f"--net=/run/netns/{DUT_NS}"] + cmd


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def parse_ethtool_xdp_packets(text):
    """Sum of veth's per-queue NAPI counters (rx_queue_N_xdp_packets) in `ethtool -S` output."""
    total = 0
    for line in text.splitlines():
        m = re.match(r"\s*rx_queue_\d+_xdp_packets:\s*(\d+)", line)
        if m:
            total += int(m.group(1))
    return total


def parse_ip_link_rx_packets(text):
    """rx packets of the one interface in `ip -j -s link show DEV` output (stats64), or 0."""
    try:
        links = json.loads(text)
        return int(links[0]["stats64"]["rx"]["packets"])
    except (ValueError, LookupError, TypeError):
        return 0


def dut_input():
    """What the DUT veth took in so far, as (NAPI input, all received).

    NAPI input: veth's per-queue XDP counters (every packet veth_poll took
    in; native mode, and generic mode when veth receives through NAPI).
    All received: the interface's rx_packets (veth counts NAPI input plus
    what its peer handed to netif_rx's backlog, the generic-mode path when
    the peer's offloads keep packets off NAPI, where the per-queue counters
    stay at zero)."""
    napi = parse_ethtool_xdp_packets(run(in_dut(["ethtool", "-S", DUT_IF])).stdout)
    received = parse_ip_link_rx_packets(run(["ip", "-n", DUT_NS, "-j", "-s", "link", "show", "dev", DUT_IF]).stdout)
    return napi, received


def offered_delta(before, after):
    """Packets offered to the DUT between two dut_input() readings and where
    the count came from: NAPI input when veth counted any, else rx_packets."""
    napi, received = after[0] - before[0], after[1] - before[1]
    if napi > 0:
        return napi, "napi"
    return received, "rx_packets"


def set_layout(attach):
    """Generic mode: GRO on, so veth still receives through its NAPI (else
    netif_rx's backlog) and NAPI can be threaded."""
    run(["ip", "netns", "exec", DUT_NS, "ethtool", "-K", DUT_IF, "gro", "on" if attach == "generic" else "off"])


def pin_napi_threads():
    """Makes the DUT veth's NAPI threaded and pins its kthreads
    (napi/DUT_IF-N) to the app's CPU. Per run: NAPI exists only while a
    program is attached (native) or GRO is on (generic)."""
    run(["ip", "netns", "exec", DUT_NS, "sh", "-c", f"echo 1 > /sys/class/net/{DUT_IF}/threaded"])
    pinned = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            name = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue
        if name.startswith(f"napi/{DUT_IF}-"):
            run(["taskset", "-p", "-c", str(APP_CPU), pid])
            pinned += 1
    return pinned


def xdpbench_variant(tool):
    """(binary, extra flags) of an xdpbench tool name, or None: xdpbench (this
    build, its default wait), xdpbench-poll (--poll: poll() before every
    batch, as xdpsock -p), xdpbench-before (the build at XDPBENCH_BEFORE)."""
    return {"xdpbench": (SWIFT, []), "xdpbench-poll": (SWIFT, ["--poll"]),
            "xdpbench-before": (SWIFT_BEFORE, [])}.get(tool)


def dut_command(tool, mode, attach, seconds):
    flag = {"native": "-N", "generic": "-S"}[attach]
    if xdpbench_variant(tool):
        binary, extra = xdpbench_variant(tool)
        return [binary, mode, *extra, "--netns", DUT_NS, "-i", DUT_IF, "--cpus", str(APP_CPU), "-d", str(seconds), "--json", "--attach", attach]
    if tool == "xdpref":
        return [C, mode, "--netns", DUT_NS, "-i", DUT_IF, "--cpu", str(APP_CPU), "-d", str(seconds), "-p", "--json", "--attach", attach]
    if tool == "xdpsock":
        m = {"rxdrop": "-r", "l2fwd": "-l", "txonly": "-t"}[mode]
        ns = PEER_NS if mode == "txonly" else DUT_NS
        iface = PEER_IF if mode == "txonly" else DUT_IF
        return ["nsenter", f"--net=/run/netns/{ns}", "taskset", "-c", str(APP_CPU), XDPSOCK, m, "-p", "-c", flag,
                "-i", iface, "-q", "0", "-d", str(seconds), "-x"]
    if tool == "testpmd":
        fwd = {"rxdrop": "rxonly", "l2fwd": "macswap", "txonly": "txonly"}[mode]
        ns = PEER_NS if mode == "txonly" else DUT_NS
        iface = PEER_IF if mode == "txonly" else DUT_IF
        # Main lcore (asleep on stdin until we close it) on the generator's CPU,
        # the forwarding lcore on the app's. 2 MiB pages are not needed (--no-huge).
        return ["nsenter", f"--net=/run/netns/{ns}", TESTPMD, "-l", f"{GEN_CPU},{APP_CPU}", "--main-lcore", str(GEN_CPU),
                "--no-huge", "-m", "1024", "--no-pci", "--file-prefix", LAB, "-d", PMD_DIR,
                "--vdev", f"net_af_xdp0,iface={iface},start_queue=0,queue_count=1",
                "--", f"--forward-mode={fwd}", "--auto-start", "--stats-period=0", "--nb-cores=1", "--total-num-mbufs=16384"]
    raise ValueError(tool)


def parse_xdpsock(text):
    """The last statistics block of xdpsock -x: rx/tx packets, drop reasons."""
    got = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1].replace(",", "").isdigit():
            key = " ".join(parts[:-2])
            if key in ("rx", "tx", "rx queue full", "fill ring empty", "rx dropped"):
                got[key] = int(parts[-1].replace(",", ""))
    return {"packets": got.get("rx" if "rx" in got else "tx", 0), "tx": got.get("tx", 0),
            "rx_ring_full": got.get("rx queue full"), "fill_ring_empty": got.get("fill ring empty")}


def parse_testpmd(text):
    """The accumulated statistics; RX-dropped is the PMD's imissed, read from XDP_STATISTICS (rx_dropped)."""
    rx = re.findall(r"RX-packets:\s*(\d+)", text)
    tx = re.findall(r"TX-packets:\s*(\d+)", text)
    dropped = re.findall(r"RX-dropped:\s*(\d+)", text)
    return {"packets": int(rx[-1]) if rx else 0, "tx": int(tx[-1]) if tx else 0,
            "rx_ring_full": None, "fill_ring_empty": None, "rx_dropped": int(dropped[-1]) if dropped else None}


def parse_json_tool(text):
    r = last_json(text)
    stats = r.get("xdp_statistics") or {}
    return {"packets": r.get("packets", 0), "tx": r.get("tx_packets"),
            "rx_ring_full": stats.get("rx_ring_full"), "fill_ring_empty": stats.get("rx_fill_ring_empty_descs")}


def parse(tool, text, mode="rxdrop"):
    r = {"xdpsock": parse_xdpsock, "testpmd": parse_testpmd}.get(tool, parse_json_tool)(text)
    if mode == "txonly" and tool in ("xdpsock", "testpmd"):
        r["packets"] = r["tx"] or 0
    if not r["packets"]:
        print(f"{tool} {mode}: nothing counted; its output ends:\n" + "\n".join(text.strip().splitlines()[-8:]), file=sys.stderr)
    return r


def one_run(tool, mode, attach, seconds):
    """Returns a dict: offered (pps), delivered (fraction), rate (pps), drops."""
    time.sleep(1.2)  # the kernel frees the previous run's queue asynchronously (EBUSY for about a second)
    if mode == "txonly":
        if xdpbench_variant(tool):
            binary, extra = xdpbench_variant(tool)
            cmd = [binary, "txonly", *extra, "--netns", PEER_NS, "-i", PEER_IF, "--cpus", str(APP_CPU), "-d", str(seconds), "--json"]
        elif tool == "xdpref":
            cmd = [C, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpu", str(APP_CPU), "-d", str(seconds), "--json"]
        else:
            cmd = dut_command(tool, mode, attach, seconds)
        if tool == "testpmd":
            with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
                time.sleep(seconds + 2.5)  # EAL and port setup (about 2 s here), then the window
                out, _ = proc.communicate(input="\n", timeout=30)
            r = parse(tool, out, mode)
        else:
            out = run(cmd, timeout=seconds + 30)
            r = parse(tool, out.stdout + out.stderr, mode)
        pps = r["packets"] / seconds
        return {"offered": pps, "delivered": 1.0, "rate": pps, "rx_ring_full": None, "fill_ring_empty": None, "offered_from": "sent"}
    started = time.monotonic()
    dut = subprocess.Popen(dut_command(tool, mode, attach, seconds + 2), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2.5 if tool == "testpmd" else 1.5)  # attach and fill
    pin_napi_threads()
    before = dut_input()
    generator = last_json(run([C, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpu", str(GEN_CPU), "-d", str(seconds), "--json"],
                              timeout=seconds + 30).stdout)
    time.sleep(0.3)
    offered, source = offered_delta(before, dut_input())
    if tool == "xdpsock":
        # xdpsock -p leaves its loop only when a poll() reports packets after
        # its duration: a few packets once it has passed (counted by it, not offered).
        time.sleep(max(0.0, started + seconds + 2.3 - time.monotonic()))
        run([C, "txonly", "--netns", PEER_NS, "-i", PEER_IF, "--cpu", str(GEN_CPU), "-n", "64", "-d", "1"], timeout=30)
    try:
        out, _ = dut.communicate(input="\n" if tool == "testpmd" else None, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        dut.kill()
        out, _ = dut.communicate()
        run(["ip", "-n", DUT_NS, "link", "set", "dev", DUT_IF, "xdp", "off"])
    r = parse(tool, out)
    window = generator.get("duration_s") or seconds
    return {"offered": offered / window, "delivered": r["packets"] / offered if offered else 0.0, "rate": r["packets"] / window,
            "rx_ring_full": r["rx_ring_full"], "fill_ring_empty": r["fill_ring_empty"], "offered_from": source}


def fmt(v):
    return "" if v is None else str(v)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--modes", default="rxdrop,l2fwd,txonly")
    parser.add_argument("--attach", default="native,generic")
    parser.add_argument("--tools", default="xdpbench,xdpref,xdpsock,testpmd")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("compare.py: run as root (AF_XDP, XDP programs, namespaces)")
    for path in (SWIFT, C):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run `make build` and `make -C Benchmarks/reference`")
    tools = []
    for tool in args.tools.split(","):
        if tool == "xdpsock" and not (XDPSOCK and os.access(XDPSOCK, os.X_OK)):
            print("xdpsock: skipped (set XDPSOCK to an xdpsock you built from bpf-examples' AF_XDP-example)", file=sys.stderr)
        elif tool == "xdpbench-before" and not (SWIFT_BEFORE and os.access(SWIFT_BEFORE, os.X_OK)):
            print("xdpbench-before: skipped (set XDPBENCH_BEFORE to another xdpbench build)", file=sys.stderr)
        elif tool == "testpmd" and not (TESTPMD and os.access(TESTPMD, os.X_OK)):
            print("testpmd: skipped (dpdk-testpmd not found: scripts/bench-deps.sh installs it)", file=sys.stderr)
        else:
            tools.append(tool)
    up = run([SWIFT, "lab", "up", "--name", LAB])
    if up.returncode != 0:
        sys.exit(up.stderr)
    rows, runs = [], []
    try:
        for attach in args.attach.split(","):
            set_layout(attach)
            for mode in args.modes.split(","):
                if mode == "txonly" and attach != args.attach.split(",")[0]:
                    continue  # txonly attaches nothing: once is enough
                for rnd in range(args.rounds):
                    order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]  # rotate who goes first
                    results = {}
                    for tool in order:
                        try:
                            results[tool] = one_run(tool, mode, attach, args.seconds)
                        except (subprocess.TimeoutExpired, OSError) as error:
                            print(f"{mode} {attach} round {rnd + 1} {tool}: failed: {error}", file=sys.stderr)
                            continue
                        r = results[tool]
                        runs.append((mode, attach if mode != "txonly" else "-", rnd + 1, tool, r))
                        print(f"{mode} {attach} round {rnd + 1} {tool}: offered {r['offered'] / 1e6:.3f} Mpps ({r['offered_from']}), "
                              f"delivered {r['delivered']:.2f} ({r['rate'] / 1e6:.3f} Mpps), rx_ring_full {fmt(r['rx_ring_full'])}, "
                              f"fill_ring_empty {fmt(r['fill_ring_empty'])}", file=sys.stderr)
                    rows.append((mode, attach if mode != "txonly" else "-", results))
    finally:
        run([SWIFT, "lab", "down", "--name", LAB])

    lines = ["Per run (offered: the DUT veth's input, from its NAPI counters or else its rx_packets; delivered: received / offered):", "",
             "| mode | attach | round | tool | offered Mpps | offered from | delivered | Mpps | rx_ring_full | fill_ring_empty |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for mode, attach, rnd, tool, r in runs:
        lines.append(f"| {mode} | {attach} | {rnd} | {tool} | {r['offered'] / 1e6:.3f} | {r['offered_from']} | {r['delivered']:.2f} | {r['rate'] / 1e6:.3f} | "
                     f"{fmt(r['rx_ring_full'])} | {fmt(r['fill_ring_empty'])} |")
    lines += ["", "xdpbench against each tool, rounds where both saw offered loads within 10% "
              "(ratio of delivered fractions; txonly: of rates, every round):", "",
              "| mode | attach | against | rounds kept | rounds skipped (load differed) | xdpbench median | other median | xdpbench/other (median) |",
              "|---|---|---|---|---|---|---|---|"]
    for mode in args.modes.split(","):
        for attach in (["-"] if mode == "txonly" else args.attach.split(",")):
            for other in tools:
                if other == "xdpbench":
                    continue
                kept, skipped = [], 0
                for m, a, results in rows:
                    if (m, a) != (mode, attach) or "xdpbench" not in results or other not in results:
                        continue
                    s, o = results["xdpbench"], results[other]
                    key = "rate" if mode == "txonly" else "delivered"
                    # txonly offers nothing to the tool (its rate is what is compared): every round counts.
                    similar = mode == "txonly" or min(s["offered"], o["offered"]) >= 0.9 * max(s["offered"], o["offered"])
                    if similar and o[key] > 0:
                        kept.append((s[key], o[key]))
                    else:
                        skipped += 1
                if kept:
                    lines.append(f"| {mode} | {attach} | {other} | {len(kept)} | {skipped} | {statistics.median(s for s, _ in kept):.3f} | "
                                 f"{statistics.median(o for _, o in kept):.3f} | {statistics.median(s / o for s, o in kept):.2f} |")
                else:
                    lines.append(f"| {mode} | {attach} | {other} | 0 | {skipped} | | | |")
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
