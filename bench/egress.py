#!/usr/bin/env python3
"""What the egress policy path costs (issue 13's speed targets).

Builds the egress suite's test network (a network namespace on a veth pair
holding an HTTP server; nothing leaves the machine), starts a kilnd allowed
to reach it, and measures, --repeat times:
  throughput  one 100 MiB download with curl from inside a sandbox
              (sandbox -> kiln-init -> kilnd's proxy -> server) vs the same
              curl on the host straight to the server (the peer)
  latency     50 small GETs with urllib, one connection each, from inside
              the sandbox vs the same script run by /usr/bin/python3 on the
              host straight to the server; p50 and p99
Prints min / median / max of each figure and the ratios. Targets: proxied
throughput >= 50% of the host's, added p50 <= 1 ms.

  /usr/bin/python3 bench/egress.py [--repeat 3] [--mib 100] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "egress"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from conftest import ALLOWED_IP, K, PORT, Api, TestNet  # noqa: E402
from kilnd import BENCH_UID_BASE, Kilnd  # noqa: E402
from interference import spread  # noqa: E402

LATENCY = """
import json, time, urllib.request
url, n = URL, 50
ts = []
for _ in range(n):
    t = time.perf_counter(); urllib.request.urlopen(url, timeout=10).read()
    ts.append(time.perf_counter() - t)
ts.sort(); print(json.dumps([1000 * ts[n // 2], 1000 * ts[int(0.99 * (n - 1))]]))
"""


def curl_speed(run, url):
    out = run(f"curl -sS -o /dev/null -w '%{{speed_download}}' '{url}'")
    return float(out) / 1e6  # MB/s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--json")
    a = ap.parse_args()
    net = TestNet()
    d = Kilnd("--egress-allow-cidr", f"10.250.{K}.0/30", "--egress-hosts", net.hosts,
              uid_base=BENCH_UID_BASE["egress"], pool_size=1, name="bench-egress",
              suite="bench")
    try:
        api = Api(d)
        sid = api.create(network={"allow": ["allowed.test"]}, timeout_s=3600)
        proxied_url = f"http://allowed.test:{PORT}"
        direct_url = f"http://{ALLOWED_IP}:{PORT}"

        def in_sandbox(cmd):
            r = api.run(sid, cmd, timeout_s=300)
            if r["exit_code"] != 0:
                raise RuntimeError(f"{cmd}: {r}")
            return r["stdout"]

        def on_host(cmd):
            return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True,
                                  check=True).stdout

        rows = {k: [] for k in ("proxied_mbs", "host_mbs", "ratio", "proxied_p50", "host_p50",
                                "added_p50", "proxied_p99", "host_p99")}
        n = a.mib << 20
        for r in range(a.repeat):
            p = curl_speed(in_sandbox, f"{proxied_url}/big?n={n}")
            h = curl_speed(on_host, f"{direct_url}/big?n={n}")
            pl = json.loads(api.py(sid, LATENCY.replace("URL", repr(f"{proxied_url}/hello"))))
            hl = json.loads(subprocess.run(
                ["/usr/bin/python3", "-c", LATENCY.replace("URL", repr(f"{direct_url}/hello"))],
                capture_output=True, text=True, check=True).stdout)
            for k, v in (("proxied_mbs", p), ("host_mbs", h), ("ratio", p / h),
                         ("proxied_p50", pl[0]), ("host_p50", hl[0]), ("added_p50", pl[0] - hl[0]),
                         ("proxied_p99", pl[1]), ("host_p99", hl[1])):
                rows[k].append(v)
            print(f"round {r + 1}: {a.mib} MiB proxied {p:.0f} MB/s, host {h:.0f} MB/s "
                  f"({p / h:.2f}); small GET p50 proxied {pl[0]:.2f} ms, host {hl[0]:.2f} ms, "
                  f"p99 {pl[1]:.2f} / {hl[1]:.2f} ms", flush=True)
        out = {k: spread(v) for k, v in rows.items()}
        print(f"\nmin / median / max over {a.repeat} rounds:")
        for k, unit in (("proxied_mbs", "MB/s"), ("host_mbs", "MB/s"), ("ratio", "x host"),
                        ("proxied_p50", "ms"), ("host_p50", "ms"), ("added_p50", "ms"),
                        ("proxied_p99", "ms"), ("host_p99", "ms")):
            s = out[k]
            print(f"  {k:12s} {s['min']:9.2f} {s['median']:9.2f} {s['max']:9.2f}  {unit}")
        print("targets: proxied throughput >= 0.50x host (median "
              f"{out['ratio']['median']:.2f}x); added p50 <= 1 ms (median "
              f"{out['added_p50']['median']:.2f} ms)")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
    finally:
        d.stop()
        net.close()


if __name__ == "__main__":
    main()
