"""Network probes, run INSIDE a sandbox (exec'd in the Python runner, or python3 net_probe.py).

Only loopback addresses are ever contacted: the sandbox's own 127.0.0.1/::1 (where the
daemon's port and the test's host-side servers must NOT be), and name resolution only
when /etc/resolv.conf names no non-loopback server (so a lookup cannot leave the box).
net_probe(daemon_port, tcp_port, udp_port) returns {attempt: outcome}.
"""
import errno as _errno
import os as _os
import socket as _socket


def _en(e):
    return _errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def _tcp(family, addr, port):
    s = _socket.socket(family, _socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((addr, port))
        return "CONNECTED"
    except OSError as e:
        return _en(e)
    finally:
        s.close()


def net_probe(daemon_port, tcp_port, udp_port):
    out = {}
    dev = open("/proc/net/dev").read().splitlines()[2:]
    out["interfaces"] = ",".join(l.split(":")[0].strip() for l in dev)
    routes = [l for l in open("/proc/net/route").read().splitlines()[1:] if l.strip()]
    out["ipv4 routes"] = str(len(routes))
    v6 = [l.split() for l in open("/proc/net/ipv6_route").read().splitlines() if l.strip()]
    out["ipv6 routes not on lo"] = str(sum(1 for r in v6 if r[-1] != "lo"))
    try:
        a6 = [l.split()[-1] for l in open("/proc/net/if_inet6").read().splitlines() if l.strip()]
    except OSError:
        a6 = []
    out["ipv6 addrs not on lo"] = str(sum(1 for i in a6 if i != "lo"))
    out["stat /sys/class/net"] = "OK" if _os.path.exists("/sys/class/net") else "ENOENT"
    out["tcp 127.0.0.1:daemon"] = _tcp(_socket.AF_INET, "127.0.0.1", daemon_port)
    out["tcp [::1]:daemon"] = _tcp(_socket.AF_INET6, "::1", daemon_port)
    out["tcp 127.0.0.1:host-server"] = _tcp(_socket.AF_INET, "127.0.0.1", tcp_port)
    out["tcp [::1]:host-server"] = _tcp(_socket.AF_INET6, "::1", tcp_port)
    # UDP to the host's loopback UDP server: the datagram can only reach the sandbox's lo,
    # where nothing listens, so the connected socket gets the ICMP port-unreachable back.
    u = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        u.connect(("127.0.0.1", udp_port))
        u.send(b"kiln-sec-udp")
        u.settimeout(0.3)
        try:
            u.recv(64)
            out["udp 127.0.0.1:host-server reply"] = "REPLY"
        except OSError as e:
            out["udp 127.0.0.1:host-server reply"] = _en(e)
    except OSError as e:
        out["udp 127.0.0.1:host-server reply"] = _en(e)
    finally:
        u.close()
    conf = open("/etc/resolv.conf").read() if _os.path.exists("/etc/resolv.conf") else ""
    servers = [l.split()[1] for l in conf.splitlines() if l.strip().startswith("nameserver")]
    out["resolv.conf nameservers"] = ",".join(servers) or "none"
    if all(s.startswith("127.") or s == "::1" for s in servers):
        try:
            _socket.getaddrinfo("example.com", 80)
            out["resolve example.com"] = "RESOLVED"
        except _socket.gaierror:
            out["resolve example.com"] = "gaierror"
    else:
        out["resolve example.com"] = "SKIPPED: non-loopback nameserver configured"
    # Positive control: the sandbox's own loopback works.
    srv = _socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    out["own loopback (control)"] = _tcp(_socket.AF_INET, "127.0.0.1", srv.getsockname()[1])
    srv.close()
    return out


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(net_probe(*map(int, sys.argv[1:4]))))
