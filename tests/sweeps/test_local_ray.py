"""A local Ray listens on loopback only, even when ray was imported first (as sweeps.launch does).

Runs in a fresh interpreter without RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER in its environment, the
way the console script starts; listening sockets are read from /proc for Ray's whole process tree.
"""
import ipaddress
import json
import os
import subprocess
import sys

SCRIPT = r'''
import ipaddress, json, os
import ray  # imported before init_ray, as every tasksweep process does
from sweeps.launch import init_ray

def tree(root):
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parents[int(d)] = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    pids, grew = {root}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in pids} - pids
        pids |= new
        grew = bool(new)
    return pids

def socket_inodes(pids):
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes

def listening(inodes):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(f[1].split(":")[0])
                yield str(ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))

init_ray(None)

@ray.remote
def where():
    return ray.util.get_node_ip_address()

worker_ip = ray.get(where.remote())
addresses = sorted(set(listening(socket_inodes(tree(os.getpid())))))
ray.shutdown()
print(json.dumps({"worker_ip": worker_ip, "listening": addresses}))
'''


def _is_loopback(text: str) -> bool:
    address = ipaddress.ip_address(text)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_local_ray_listens_on_loopback_only():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert _is_loopback(seen["worker_ip"])
    assert seen["listening"], "found no listening socket of Ray's processes"
    assert all(map(_is_loopback, seen["listening"])), seen["listening"]
