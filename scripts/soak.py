#!/usr/bin/env python3
"""Bounded soak: txonly -> xdpfwd (xconnect) -> rxdrop on a three-namespace
veth lab, with random receiver stalls (its RX ring overflows: drops the
kernel counts), periodic link flaps of the receiving host and SIGHUP reloads
of the daemon. At the end every packet sent is either received or in a
counted drop, frames are conserved on all three processes, the daemon's RSS
is flat after warm-up, and no program is left attached.

    python3 scripts/soak.py [--seconds 300] [--rate 200000] [--bin .build/release]

Exit status 0 when every check holds. Addresses: none needed (raw frames);
namespaces named xs<pid>{a,d,b}, deleted on every exit path; only processes
this script started are signalled, by PID.
"""
import argparse, json, os, random, re, signal, subprocess, sys, time, urllib.request

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "300")))
parser.add_argument("--rate", type=int, default=200000, help="packets per second offered (bounded: the sender stops by itself)")
parser.add_argument("--bin", default=os.environ.get("BIN", ".build/release"))
parser.add_argument("--seed", type=int, default=None)
args = parser.parse_args()
if not 10 <= args.seconds <= 3600:
    sys.exit("--seconds: 10 to 3600")
seed = args.seed if args.seed is not None else random.randrange(1 << 30)
rng = random.Random(seed)
tag = f"xs{os.getpid()}"
ns = {side: f"{tag}{side}" for side in "adb"}
links = {"hA": f"{tag}ha", "pA": f"{tag}pa", "pB": f"{tag}pb", "hB": f"{tag}hb"}
metrics_port = 20000 + os.getpid() % 20000
started = []


def sh(*command, check=True):
    return subprocess.run(command, check=check, capture_output=True, text=True)


def cleanup():
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
    for name in ns.values():
        sh("ip", "netns", "del", name, check=False)


def link_stats(namespace, interface):
    data = json.loads(sh("ip", "-n", namespace, "-s", "-j", "link", "show", interface).stdout)[0]["stats64"]
    return data


def scrape():
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            samples.setdefault(match.group(1), []).append((labels, float(match.group(3))))
    return samples


def total(samples, name, **where):
    return sum(value for labels, value in samples.get(name, []) if all(labels.get(k) == v for k, v in where.items()))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def main():
    binary = lambda name: os.path.join(args.bin, name)
    for name in ns.values():
        sh("ip", "netns", "add", name)
        # No IPv6 on the lab: a link coming up would send DAD/RS/MLD frames the
        # receiver counts, which nobody sent through the daemon.
        sh("ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    sh("ip", "link", "add", links["hA"], "netns", ns["a"], "type", "veth", "peer", "name", links["pA"], "netns", ns["d"])
    sh("ip", "link", "add", links["pB"], "netns", ns["d"], "type", "veth", "peer", "name", links["hB"], "netns", ns["b"])
    for side, interface in [("a", "hA"), ("d", "pA"), ("d", "pB"), ("b", "hB")]:
        sh("ip", "-n", ns[side], "link", "set", links[interface], "up")

    daemon = subprocess.Popen([binary("xdpfwd"), "run", "--mode", "xconnect", "-i", links["pA"], "-i", links["pB"],
                               "--netns", ns["d"], "--metrics", f"127.0.0.1:{metrics_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started.append(daemon)
    receiver = subprocess.Popen([binary("xdpbench"), "rxdrop", "--netns", ns["b"], "-i", links["hB"],
                                 "-d", str(args.seconds + 60), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(receiver)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            scrape()
            break
        except OSError:
            time.sleep(0.2)
    time.sleep(1)
    before = {key: link_stats(ns[side], links[key]) for key, side in [("hA", "a"), ("pA", "d"), ("pB", "d"), ("hB", "b")]}
    sender = subprocess.Popen([binary("xdpbench"), "txonly", "--netns", ns["a"], "-i", links["hA"], "--rate", str(args.rate),
                               "-d", str(args.seconds), "--json", "--flows", "16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(sender)
    print(f"soak: {args.seconds} s at {args.rate} pps offered, seed {seed}; daemon pid {daemon.pid}")
    warm_up = min(30, args.seconds // 4)
    rss = []
    events = {"flaps": 0, "reloads": 0, "stalls": 0}
    begin = time.time()
    next_flap = begin + rng.uniform(5, 12)
    next_reload = begin + 10
    next_stall = begin + rng.uniform(1, 4)
    next_sample = begin + warm_up
    while sender.poll() is None and time.time() < begin + args.seconds + 30:
        now = time.time()
        if now >= next_flap:
            sh("ip", "-n", ns["b"], "link", "set", links["hB"], "down")
            time.sleep(rng.uniform(0.1, 0.5))
            sh("ip", "-n", ns["b"], "link", "set", links["hB"], "up")
            events["flaps"] += 1
            next_flap = time.time() + rng.uniform(8, 15)
        if now >= next_reload:
            daemon.send_signal(signal.SIGHUP)
            events["reloads"] += 1
            next_reload = now + 10
        if now >= next_stall:
            receiver.send_signal(signal.SIGSTOP)
            time.sleep(rng.uniform(0.02, 0.3))
            receiver.send_signal(signal.SIGCONT)
            events["stalls"] += 1
            next_stall = time.time() + rng.uniform(1, 4)
        if now >= next_sample:
            rss.append(rss_kib(daemon.pid))
            next_sample = now + 5
        time.sleep(0.05)
    sent = json.loads(sender.communicate(timeout=30)[0].strip().splitlines()[-1])
    time.sleep(2)  # let the rings drain
    metrics = scrape()
    after = {key: link_stats(ns[side], links[key]) for key, side in [("hA", "a"), ("pA", "d"), ("pB", "d"), ("hB", "b")]}
    receiver.send_signal(signal.SIGINT)
    received = json.loads(receiver.communicate(timeout=30)[0].strip().splitlines()[-1])
    daemon.send_signal(signal.SIGTERM)
    _, daemon_log = daemon.communicate(timeout=30)
    delta = lambda key, field: (after[key][field.split("_")[0]][field.split("_")[1]]
                                - before[key][field.split("_")[0]][field.split("_")[1]])

    receiver_stats = received.get("xdp_statistics", {})
    receiver_program = received.get("program", {}) or {}
    drops = {
        "sender host veth tx_dropped": delta("hA", "tx_dropped"),
        "daemon socket rx_dropped (port A)": total(metrics, "xdpfwd_xdp_statistics_total", port=links["pA"], counter="rx_dropped"),
        "daemon socket rx_ring_full (port A)": total(metrics, "xdpfwd_xdp_statistics_total", port=links["pA"], counter="rx_ring_full"),
        "daemon program dropped_no_socket": total(metrics, "xdpfwd_program_packets_total", decision="dropped_no_socket"),
        "daemon userspace drops": total(metrics, "xdpfwd_drops_total"),
        "daemon port B veth tx_dropped (receiver link down)": delta("pB", "tx_dropped"),
        "receiver socket rx_dropped": receiver_stats.get("rxDropped", receiver_stats.get("rx_dropped", 0)),
        "receiver socket rx_ring_full": receiver_stats.get("rxRingFull", receiver_stats.get("rx_ring_full", 0)),
        "receiver program dropped_no_socket": receiver_program.get("droppedNoSocket", receiver_program.get("dropped_no_socket", 0)),
    }
    # veth counts a failed redirect into a socket as rx_dropped too: anything
    # beyond what the sockets counted is a drop of its own.
    drops["daemon port A veth rx_dropped beyond the socket's"] = max(0, delta("pA", "rx_dropped") - drops["daemon socket rx_dropped (port A)"]
                                                                  - drops["daemon socket rx_ring_full (port A)"])
    drops["receiver veth rx_dropped beyond the socket's"] = max(0, delta("hB", "rx_dropped") - drops["receiver socket rx_dropped"]
                                                             - drops["receiver socket rx_ring_full"])
    for labels, value in metrics.get("xdpfwd_drops_total", []):
        if value:
            print(f"  daemon drops, reason {labels.get('reason')}: {int(value)}")
    counted = sum(drops.values())
    unexplained = sent["packets"] - received["packets"] - counted
    growth = (max(rss) - rss[0]) if rss else 0
    frames_ok = total(metrics, "xdpfwd_frames", place="total") == sum(
        total(metrics, "xdpfwd_frames", place=p) for p in ("free", "receive_side", "transmit_side", "held"))
    attached = [iface for side, iface in [("d", "pA"), ("d", "pB"), ("b", "hB")]
                if "prog/xdp" in sh("ip", "-n", ns[side], "-d", "link", "show", links[iface]).stdout]
    checks = {
        "sent = received + counted drops": unexplained == 0,
        "frames conserved (sender, daemon, receiver)": bool(sent.get("frames_conserved")) and bool(received.get("frames_conserved")) and frames_ok,
        "daemon RSS flat after warm-up (growth < 1 MiB)": growth < 1024,
        "daemon stopped cleanly (exit 0)": daemon.returncode == 0,
        "no program left attached": not attached,
        "faults happened": events["flaps"] > 0 and events["reloads"] > 0 and events["stalls"] > 0,
    }
    print(f"soak: sent {sent['packets']}, received {received['packets']}, counted drops {int(counted)}, unexplained {int(unexplained)}")
    for name, value in drops.items():
        if value:
            print(f"  drop: {name}: {int(value)}")
    print(f"  faults: {events['flaps']} link flaps, {events['reloads']} SIGHUP reloads, {events['stalls']} receiver stalls")
    print(f"  daemon RSS after warm-up: {rss[0] if rss else '?'} KiB, max {max(rss) if rss else '?'} KiB ({len(rss)} samples)")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if daemon.returncode != 0:
        print(daemon_log[-2000:])
    passed = all(checks.values())
    print(f"soak: {'passed' if passed else 'FAILED'} (seed {seed})")
    return 0 if passed else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("soak: needs root (namespaces, XDP)")
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: sys.exit(130))
    try:
        status = main()
    finally:
        cleanup()
    sys.exit(status)
